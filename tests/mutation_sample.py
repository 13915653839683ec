"""Mutation testing of engine/models.py, sized for CI: a few minutes at most on 2 cores.

mutmut (a test extra) makes every mutant of engine/models.py it knows how to make and runs, for
each, the tests of tests/engine/test_models.py that reach the mutated function. Every mutant must
be killed, but for the harmless survivors in HARMLESS, each with the reason it cannot change a
figure. Exit 0 when so; 1, naming each other survivor with its diff, when not.

    python tests/mutation_sample.py

It works on a copy of engine/, tests/ and pyproject.toml in a temporary folder, so a checkout's
own mutants/ (from a full `mutmut run` over the numeric core, see pyproject.toml) is left alone.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SAMPLE_CONFIG = """[tool.mutmut]
source_paths = ["engine/"]
only_mutate = ["engine/models.py"]
pytest_add_cli_args_test_selection = ["tests/engine/test_models.py"]
process_isolation = "forkserver"
"""

EQUIVALENT_DEFAULT = "equivalent: the argument mutmut dropped is PyTorch's default"
ZERO_STATE = "equivalent: nn.LSTM / nn.RNN start from zero states when given none, as ours are"
ZERO_CELL = ("equivalent: c0 is zeros, and nn.LSTM casts a cell state of another float dtype to the "
             "input's (checked on the CPU in float64); a float32 zero is the same zero")

# (function, the mutated line as mutmut writes it) -> why the mutant is harmless
HARMLESS: dict[tuple[str, str], str] = {
    ("LSTM.__init__", "self.lstm = nn.LSTM(input_size, hidden_size, num_layers=num_layers, )"):
        EQUIVALENT_DEFAULT + " (batch_first=False)",
    ("StandardRNN.__init__", "self.rnn = nn.RNN(input_size, hidden_size, num_layers=num_layers, )"):
        EQUIVALENT_DEFAULT + " (batch_first=False)",
    ("LSTM.forward", "c0 = torch.zeros(shape, device=x.device, dtype=None)"): ZERO_CELL,
    ("LSTM.forward", "c0 = torch.zeros(shape, device=x.device, )"): ZERO_CELL,
    ("LSTM.forward", "o, _ = self.lstm(x, None)"): ZERO_STATE,
    ("LSTM.forward", "o, _ = self.lstm(x, )"): ZERO_STATE,
    ("StandardRNN.forward", "h0 = None"): ZERO_STATE,
    ("StandardRNN.forward", "o, _ = self.rnn(x, None)"): ZERO_STATE,
    ("StandardRNN.forward", "o, _ = self.rnn(x, )"): ZERO_STATE,
    ("GRU.__init__", "self.gru = nn.GRU(input_size, hidden_size, num_layers=num_layers, )"):
        EQUIVALENT_DEFAULT + " (batch_first=False)",
    ("GRU.forward", "h0 = None"): ZERO_STATE.replace("nn.LSTM / nn.RNN", "nn.GRU"),
    ("GRU.forward", "o, _ = self.gru(x, None)"): ZERO_STATE.replace("nn.LSTM / nn.RNN", "nn.GRU"),
    ("GRU.forward", "o, _ = self.gru(x, )"): ZERO_STATE.replace("nn.LSTM / nn.RNN", "nn.GRU"),
}


def function_of(mutant: str) -> str:
    """'engine.models.xǁLSTMǁforward__mutmut_20' -> 'LSTM.forward'; 'engine.models.x_f__mutmut_1' -> 'f'."""
    name = mutant.removeprefix("engine.models.").rsplit("__mutmut_", 1)[0]
    return ".".join(part for part in name.split("ǁ") if part != "x") if "ǁ" in name else name.removeprefix("x_")


def mutated_line(diff: str) -> str:
    added = [line[1:].strip() for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    return " / ".join(added)


def with_sample_config(pyproject: str) -> str:
    """The project's pyproject.toml (its pytest settings), its [tool.mutmut] replaced by the sample's."""
    start = pyproject.find("[tool.mutmut]")
    if start < 0:
        return pyproject.rstrip() + "\n\n" + SAMPLE_CONFIG
    following = re.search(r"^\[", pyproject[start + 1 :], re.MULTILINE)
    end = start + 1 + following.start() if following else len(pyproject)
    return pyproject[:start] + SAMPLE_CONFIG + "\n" + pyproject[end:]


def mutmut(work: Path, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "mutmut", *args], cwd=work, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"mutmut {' '.join(args)} failed ({done.returncode}):\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return done.stdout


def main() -> int:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="lstm-tui-mutation-") as tmp:
        work = Path(tmp)
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        for folder in ("engine", "tests"):
            shutil.copytree(ROOT / folder, work / folder, ignore=ignore)
        (work / "pyproject.toml").write_text(with_sample_config((ROOT / "pyproject.toml").read_text()))
        mutmut(work, "run", "--max-children", "1")
        statuses = dict(re.findall(r"^\s*(\S+): (.+)$", mutmut(work, "results", "--all", "true"), re.MULTILINE))
        unexpected, harmless = [], []
        for name, status in sorted(statuses.items()):
            if status == "killed":
                continue
            diff = mutmut(work, "show", name)
            key = (function_of(name), mutated_line(diff))
            if status == "survived" and key in HARMLESS:
                harmless.append(f"  {key[0]}: {key[1]}  ({HARMLESS[key]})")
            else:
                unexpected.append(f"{name}: {status}\n{diff}")
    killed = sum(status == "killed" for status in statuses.values())
    print(f"engine/models.py: {killed} of {len(statuses)} mutants killed, {len(harmless)} harmless survivors, "
          f"{len(unexpected)} others ({time.monotonic() - started:.0f} s)")
    print("\n".join(harmless))
    if unexpected:
        print("\nNot killed, and not listed as harmless in tests/mutation_sample.py:\n\n" + "\n".join(unexpected))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
