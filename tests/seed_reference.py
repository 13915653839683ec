"""The seed article's own data code, verbatim, to check ours against."""

import numpy as np


def create_dataset(data, look_back):  # the seed's, verbatim
    data_x, data_y = [], []
    for i in range(len(data) - look_back):
        seq = data[i : (i + look_back)]
        target = data[i + look_back]
        data_x.append(seq)
        data_y.append(target)

    return np.array(data_x), np.array(data_y)
