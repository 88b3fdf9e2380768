"""benchmarks/conv_models.py: a convnet and a character model against the same networks in
PyTorch (weights copied with load_state_dict), same batches and steps; the losses agree."""

from __future__ import annotations

import pytest
from helper_benchmarks import load_benchmark


def _module():
    return load_benchmark("conv_models")


def test_quick_run_agrees_with_pytorch_and_writes_its_section(tmp_path):
    pytest.importorskip("torch")
    bench = _module()
    md = tmp_path / "RESULTS.md"
    md.write_text("# Benchmark results\n\nother sections stay\n")
    assert bench.main(["--quick", "--repeats", "1", "--write", str(md)]) == 0
    text = md.read_text()
    assert "other sections stay" in text
    assert "| convnet |" in text and "| characters |" in text
    assert text.count("losses agree") == 1 and "| NO" not in text
    assert text.count(bench.BEGIN) == 1
    bench.main(["--quick", "--repeats", "1", "--write", str(md)])  # replaced, not appended
    assert md.read_text().count(bench.BEGIN) == 1


def test_the_two_networks_have_the_same_parameters_by_torch_keys():
    pytest.importorskip("torch")
    bench = _module()
    for ours, theirs in (bench.convnet_pair(28), bench.characters_pair()):
        assert list(ours.state_dict()) == list(theirs.state_dict())
        bench.copy_weights(ours, theirs)
        for key, value in theirs.state_dict().items():
            assert (ours.state_dict()[key] == value.numpy()).all(), key
