import numpy as np

from sycl.kernels.search_kernels import half_bits_at_or_below, half_value, quantize_rows, select_tile_f32


def test_half_value_decodes_every_non_negative_float16():
    bits = np.arange(0, 0x7C00, dtype=np.int64)  # all finite non-negative patterns
    want = bits.astype(np.int16).view(np.float16).astype(np.float64)
    got = np.array([half_value(int(b)) for b in bits])
    np.testing.assert_array_equal(got, want)


def test_threshold_bits_are_the_largest_at_or_below():
    values = np.arange(0, 0x7C00, dtype=np.int64).astype(np.int16).view(np.float16).astype(np.float64)
    rng = np.random.default_rng(0)
    probes = np.concatenate([rng.uniform(0, 2, 5000), rng.uniform(0, 1e-4, 1000), values[::37], [1e9, -1.0, np.nan]])
    for t in probes:
        b = half_bits_at_or_below(float(t))
        if not t > 0:
            assert b == 0
            continue
        assert values[b] <= t
        assert b == len(values) - 1 or values[b + 1] > t


def test_quantize_rows_round_trip_and_norm_bound():
    rng = np.random.default_rng(1)
    d = rng.standard_normal((50, 24)).astype(np.float32)
    d[3] = 0.0
    codes = np.zeros(d.shape, dtype=np.int8)
    scale = np.zeros(50, dtype=np.float32)
    bound = quantize_rows(d, codes, scale)
    assert np.abs(codes).max() == 127
    deq = codes * scale[:, None]
    assert np.abs(deq - d).max() <= scale.max() / 2 + 1e-6
    assert np.linalg.norm(deq, axis=1).max() <= bound
    assert scale[3] == 1.0 and not codes[3].any()


def test_select_tile_keeps_the_exact_top_c_with_ties_and_exclusion():
    rng = np.random.default_rng(2)
    q, n, g, c = 6, 256, 32, 5
    tile = rng.integers(0, 6, (q, n)).astype(np.float32)  # many exact ties
    heap_s = np.full((q, c), -np.inf, dtype=np.float32)
    heap_r = np.full((q, c), -1, dtype=np.int64)
    exclude = np.array([-1, 1000 + 3, -1, 1000 + 200, -1, -1])
    select_tile_f32(tile[:, :128].copy(), 128, g, 1000, exclude, heap_s, heap_r)  # two tiles, in order
    select_tile_f32(tile[:, 128:].copy(), 128, g, 1128, exclude, heap_s, heap_r)
    for i in range(q):
        s = tile[i].astype(np.float64)
        if exclude[i] >= 0:
            s[exclude[i] - 1000] = -np.inf
        want = 1000 + np.lexsort((np.arange(n), -s))[:c]
        got = heap_r[i][np.lexsort((heap_r[i], -heap_s[i]))]
        np.testing.assert_array_equal(got, want)
