import subprocess
import sys

HEAVY_MODULES = ("pandas", "matplotlib", "ipywidgets", "docker", "pynvml", "numpy")


def test_import_labadvisor_stays_light() -> None:
    code = (
        "import sys, labadvisor\n"
        "labadvisor.advise_runtime, labadvisor.advise_deployment, labadvisor.monthly_costs\n"
        f"print(','.join(m for m in {HEAVY_MODULES!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"import labadvisor pulled in: {out.stdout.strip()}"


def test_unknown_attribute_is_a_clear_error() -> None:
    import labadvisor

    try:
        labadvisor.no_such_thing  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_every_public_name_resolves() -> None:
    import labadvisor

    lazy = set(labadvisor._LAZY_ATTRIBUTES) | set(labadvisor._LAZY_SUBMODULES)
    assert set(labadvisor.__all__) == lazy | {"__version__"}
    for name in (
        "advise_runtime",
        "advise_deployment",
        "monthly_costs",
        "sweep",
        "matrices",
        "Reason",
    ):
        assert getattr(labadvisor, name) is not None
