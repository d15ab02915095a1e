"""The first layer seen as images: pixel counts, the border/centre measure, the best-connected units."""

from __future__ import annotations

import numpy as np

from lth.report import mask_figures


def hand_mask() -> np.ndarray:
    """3 hidden units on 28x28 inputs: unit 0 keeps the whole centre, unit 1 one border pixel, unit 2 nothing."""
    m = np.zeros((3, 28, 28), dtype=bool)
    m[0, 4:24, 4:24] = True
    m[1, 0, 0] = True
    return m.reshape(3, 784)


def test_border_and_centre_average_the_connections_of_each_region():
    edge, centre = mask_figures.border_and_centre(hand_mask(), 28)
    assert edge == 1 / (784 - 400)  # one connection over the 384 border pixels
    assert centre == 1.0  # every centre pixel feeds unit 0 only


def test_pixel_map_counts_the_units_each_pixel_feeds():
    chart = mask_figures.pixel_map(hand_mask(), 28)
    counts = chart.data.set_index(["row", "col"]).connections
    assert counts[(0, 0)] == 1 and counts[(10, 10)] == 1 and counts[(0, 5)] == 0
    assert counts.sum() == 401


def test_receptive_fields_show_the_units_keeping_most_inputs_first_with_square_pixels():
    chart = mask_figures.receptive_fields(hand_mask(), 28, units=2)
    assert list(chart.data.unit) == [0, 1] and list(chart.data.kept_inputs) == [400, 1]
    layout = chart.figure.layout
    assert layout.yaxis.scaleanchor == "x" and layout.yaxis2.scaleanchor == "x2"
