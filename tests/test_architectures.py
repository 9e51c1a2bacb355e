"""Several architectures in one run (issue 12 item 2): network.hidden as a list of
architectures, all or a seeded network.sample of them in every generation; validation and
evaluate use the first; errors name the key."""

from __future__ import annotations

import pytest

from blgnn_es.config.settings import load_config_text
from blgnn_es.errors import ConfigError
from blgnn_es.es.driver import make_plans
from blgnn_es.es.sizes import estimate
from blgnn_es.evaluation import draw_samples
from tests.conftest import tiny_toml


def _config(hidden: str, sample: int | None = None, validate: bool = True):
    text = tiny_toml("arch", 0).replace("hidden = [6]", f"hidden = {hidden}"
                                        + (f"\nsample = {sample}" if sample is not None else ""))
    if validate:
        text = text.replace('train = ["xor"]', 'train = ["xor"]\nvalidate = ["circles"]')
    return load_config_text(text, source="arch.toml")


def _shapes(config, generation: int, plan: str = "train"):
    return [s.net.layer_sizes for s in draw_samples(getattr(make_plans(config), plan),
                                                    generation)]


def test_one_architecture_is_as_before():
    config = _config("[6]")
    assert config.network.architectures == ((6,),) and config.network.hidden == (6,)
    assert _shapes(config, 0) == [(2, 6, 1)]


def test_every_generation_uses_every_architecture():
    config = _config("[[6], [4, 3]]")
    assert config.network.architectures == ((6,), (4, 3))
    assert config.network.spec(2, 1).layer_sizes == (2, 6, 1)  # the first
    for generation in range(3):
        assert _shapes(config, generation) == [(2, 6, 1), (2, 4, 3, 1)]
    # validation (and evaluate) use the first architecture
    assert _shapes(config, 0, "validate") == [(2, 6, 1)] * config.report.validate_seeds
    samples = draw_samples(make_plans(config).train, 0)
    assert samples[0].data.x_train.tobytes() == samples[1].data.x_train.tobytes()


def test_a_sample_of_architectures_is_drawn_from_the_run_seed():
    config = _config("[[6], [4, 3], [5], [2, 2, 2]]", sample=2)
    drawn = [tuple(_shapes(config, generation)) for generation in range(12)]
    assert all(len(shapes) == 2 and len(set(shapes)) == 2 for shapes in drawn)
    assert len(set(drawn)) > 1  # a different pair in some generations
    assert drawn == [tuple(_shapes(config, generation)) for generation in range(12)]
    every = {shape for shapes in drawn for shape in shapes}
    assert every == {(2, 6, 1), (2, 4, 3, 1), (2, 5, 1), (2, 2, 2, 2, 1)}


def test_the_estimate_counts_the_architectures_of_a_generation():
    one = _config("[6]", validate=False)
    both = _config("[[6], [6]]", validate=False)
    sampled = _config("[[6], [6], [6]]", sample=1, validate=False)
    nets = [one.network.spec(2, 1)] * 3
    base = estimate(one, nets)
    assert estimate(both, nets).samples == 2 * base.samples
    assert estimate(sampled, nets).samples == base.samples
    assert estimate(both, nets).generation_seconds == pytest.approx(2 * base.generation_seconds)


@pytest.mark.parametrize(("hidden", "message"), [
    ("[[6], 3]", "mixes sizes and lists"),
    ("[[6], [0]]", r"architecture \[0\] is not a list of at most 16 integers from 1"),
    ('[[6], ["a"]]', r"architecture \['a'\]"),
    ("6", "give a list of at most 16 integers"),
    ("[6, 2.5]", r"architecture \[6, 2.5\]"),
])
def test_bad_architectures_name_the_key(hidden, message):
    with pytest.raises(ConfigError, match=rf"arch\.toml: network\.hidden = .*{message}"):
        _config(hidden)


def test_a_sample_larger_than_the_list_is_refused():
    with pytest.raises(ConfigError, match=r"network\.sample = 3 exceeds the 2 architectures"):
        _config("[[6], [4]]", sample=3)
    with pytest.raises(ConfigError, match=r"network\.sample"):
        _config("[[6], [4]]", sample=0)


def test_bad_architectures_exit_2_on_the_command_line(tmp_path, invoke):
    path = tmp_path / "bad.toml"
    path.write_text(tiny_toml("bad", 0).replace("hidden = [6]", "hidden = [[6], [-1]]"))
    result = invoke("evolve", "--config", path, "--check")
    assert result.exit_code == 2 and "network.hidden" in result.output
