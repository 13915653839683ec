"""What a run leaves on disk, owned by one object: engine.rundir.directory.RunDirectory.

    directory.py   the file names, the reader's side (RunDirectory) and the writer's (RunWriter)
    log.py         events.jsonl: its one reader (LogReader, read_events) and its writer
    follow.py      a live run followed: what was appended, then its status
    commands.py    commands.jsonl: watchers append, the trainer polls
    checkpoint.py  checkpoint.pt (imports torch; loaded only when needed)
    lock.py        the lock a trainer holds, with its pid
    files.py       atomic writes, RunDirError
"""
