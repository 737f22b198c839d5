"""cluster.yaml passes Ray's own cluster-launcher validation and declares what Rayward needs."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_cluster_yaml_validates_with_ray():
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = yaml.safe_load((ROOT / "cluster.yaml").read_text())
    prepared = prepare_config(config)  # fills Ray's defaults, as `ray up` does
    validate_config(prepared)  # Ray's JSON schema: raises on any violation
    types = prepared["available_node_types"]
    assert types[prepared["head_node_type"]]["resources"].get("GPU", 0) == 0  # the driver needs no GPU
    assert any(
        t["resources"].get("GPU", 0) >= 1 for name, t in types.items() if name != prepared["head_node_type"]
    )
    assert any("rayward[gpu]" in c for c in prepared["setup_commands"])
    assert any("/mnt/rayward-results" in c for c in prepared["setup_commands"])


def test_a_broken_cluster_yaml_is_rejected():
    """The validation above is real: an unknown key in a node type fails Ray's schema."""
    import pytest
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = yaml.safe_load((ROOT / "cluster.yaml").read_text())
    config["available_node_types"]["gpu_1x"]["no_such_key"] = 1
    with pytest.raises(Exception):
        validate_config(prepare_config(config))
