"""What a person sees in JupyterLab (issue 13), in Debian's headless Chromium: the side
panel's dropdowns, ranges and errors, its theme, the toasts, the status bar item, no
dollar sign typeset as mathematics, and axe-core's accessibility check.

Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from typing import Any

import pytest
from browser_lab import (
    MATH_NODES,
    ROOT,
    Lab,
    api_route,
    close_and_shut_down,
    fulfill_json,
    lab_fixture,  # noqa: F401 (the lab fixture)
    open_notebook,
    page_fixture,  # noqa: F401 (the page fixture)
    post,
    put_settings,
    run_all,
    run_command,
    screenshot,
    serious_accessibility_violations,
    set_theme,
)

pytestmark = [pytest.mark.browser, pytest.mark.docker, pytest.mark.slow]

PANEL = "#labadvisor-panel"
GIB = 1024**3

# Every control's box holds its content: nothing is cut off ("completi…"); a dropdown is
# wide enough for its longest choice (measured in its own font, beside its arrow).
CUT_OFF = """panel => {
    const right = panel.getBoundingClientRect().right + 0.5;
    const canvas = document.createElement('canvas').getContext('2d');
    const tooNarrow = select => {
        const style = getComputedStyle(select);
        canvas.font = `${style.fontSize} ${style.fontFamily}`;
        const room = select.clientWidth - parseFloat(style.paddingLeft)
            - parseFloat(style.paddingRight) - 16;
        return [...select.options].some(o => canvas.measureText(o.text).width > room);
    };
    return [...panel.querySelectorAll('label, input, select, button, h2, h3')]
        .filter(el => el.offsetParent !== null)
        .filter(el => el.scrollWidth > el.clientWidth + 1
            || el.getBoundingClientRect().right > right
            || (el.tagName === 'SELECT' && tooNarrow(el)))
        .map(el => el.name || el.textContent.trim().slice(0, 40));
}"""

# Each select's options: [label shown, ...] and the label of the one selected.
SELECTS = """panel => [...panel.querySelectorAll('select')].map(s => ({
    form: s.closest('[data-form]').dataset.form,
    name: s.name,
    labels: [...s.options].map(o => o.text.trim()),
    shown: s.multiple ? '(several)' :
        s.selectedIndex >= 0 ? s.options[s.selectedIndex].text.trim() : '',
}))"""

# The colour a theme variable stands for, resolved as the browser paints it.
THEME_COLOR = """name => {
    const probe = document.createElement('div');
    probe.style.color = `var(${name})`;
    document.body.append(probe);
    const color = getComputedStyle(probe).color;
    probe.remove();
    return color;
}"""


def open_panel(page: Any) -> Any:
    from playwright.sync_api import expect

    run_command(page, "labadvisor:open")
    panel = page.locator(PANEL)
    expect(panel).to_be_visible()
    # The dropdowns are filled from GET advise/options.
    expect(panel.locator("select[name='workload'] option")).not_to_have_count(1)
    return panel


def selected_label(panel: Any, form: str, name: str) -> str:
    select = panel.locator(f"[data-form='{form}'] select[name='{name}']")
    return str(select.evaluate("s => s.options[s.selectedIndex].text"))


def luminance(color: str) -> float:
    """0 (black) to 1 (white) for a computed ``rgb(...)`` / ``rgba(...)`` colour."""
    parts = color[color.index("(") + 1 :].rstrip(")").split(",")
    red, green, blue = (float(part) for part in parts[:3])
    return (0.2126 * red + 0.7152 * green + 0.0722 * blue) / 255


@pytest.fixture
def light_theme_after(page: Any) -> Iterator[None]:
    yield
    set_theme(page, "light")


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_side_panel_dropdowns_fit_and_theme(
    page: Any, lab: Lab, theme: str, light_theme_after: None
) -> None:
    from playwright.sync_api import expect

    set_theme(page, theme)
    panel = open_panel(page)

    # 1. every input the notebook panels have is a dropdown fed by GET advise/options,
    # and every value, none/unknown included, shows a label
    options = lab.api("advise/options")
    selects = {(s["form"], s["name"]): s for s in panel.evaluate(SELECTS)}
    for form, inputs in options.items():
        for name, choices in inputs.items():
            # a list input (several picks) is a group of labelled checkboxes
            group = panel.locator(f"[data-form='{form}'] fieldset[name='{name}']")
            if group.count():
                labels = [t.strip() for t in group.locator("label").all_inner_texts()]
                assert group.locator("legend").inner_text()
            else:
                shown = panel.locator(f"[data-form='{form}'] select[name='{name}']")
                expect(shown).to_have_count(1)
                labels = selects[form, name]["labels"]
            for choice in choices:
                assert choice["label"] in labels, (form, name, choice, labels)
    for select in selects.values():
        assert all(select["labels"]), f"blank choice in {select}"
        assert select["shown"], f"{select['name']} shows blank"
    deployment = panel.locator("[data-form='deployment']")
    sharing = deployment.locator("select[name='gpu_sharing']")
    sharing.select_option(label="mig")
    sharing.select_option(label="none")
    assert selected_label(panel, "deployment", "gpu_sharing") == "none"
    runtime = panel.locator("[data-form='runtime']")
    runtime.locator("select[name='gpu']").select_option(label="no local GPU")
    assert selected_label(panel, "runtime", "gpu") == "no local GPU"
    assert selected_label(panel, "runtime", "hardware") == "what the GPU check found"
    assert selected_label(panel, "deployment", "kubernetes_experience") == "not stated"
    assert selected_label(panel, "deployment", "current") == "nothing yet"
    assert selected_label(panel, "deployment", "gpu") == "not stated"
    assert selected_label(panel, "deployment", "prefer") == "no preference"

    # 2. nothing is cut off: the sidebar is as wide as the panel needs
    assert panel.evaluate(CUT_OFF) == []

    # 3. guide sections are shown under each reason, not only on hover
    runtime.locator("input[name='model_size_gb']").fill("40")
    runtime.locator("button[type='submit']").click()
    reasons = runtime.locator(".jp-labadvisor-reasons li")
    expect(reasons.first).to_be_visible()
    expected = post(lab, "advise/runtime", {"model_size_gb": 40, "gpu": None})
    # ... in the library's order: the deciding reason first, the overridden ones apart
    effects = [reason["effect"] for reason in expected["reasons"]]
    assert "overridden" in effects, effects  # the 7 GB size tier loses to capacity here
    shown = sorted(
        expected["reasons"],
        key=lambda reason: {"decided": 0, "overridden": 2}.get(reason["effect"], 1),
    )
    expect(reasons.first).to_have_attribute("data-effect", "decided")
    not_followed = runtime.locator(".jp-labadvisor-not-followed")
    expect(not_followed).to_have_text("Not followed (another rule decided):")
    expect(
        runtime.locator(".jp-labadvisor-not-followed + .jp-labadvisor-reasons li")
    ).to_have_count(effects.count("overridden"))
    sources = runtime.locator(".jp-labadvisor-reasons .jp-labadvisor-source")
    expect(sources).to_have_count(len(expected["reasons"]))
    for index, reason in enumerate(shown):
        expect(sources.nth(index)).to_be_visible()
        expect(sources.nth(index)).to_have_text(f"Guide: {reason['source']}")

    # 4. the theme's own colours, as the notebook panels use them
    background = panel.evaluate("p => getComputedStyle(p).backgroundColor")
    assert background == page.evaluate(THEME_COLOR, "--jp-layout-color1")
    text = panel.evaluate("p => getComputedStyle(p).color")
    assert text == page.evaluate(THEME_COLOR, "--jp-ui-font-color1")
    size = runtime.locator("input[name='model_size_gb']")
    assert size.evaluate("i => getComputedStyle(i).backgroundColor") == page.evaluate(
        THEME_COLOR, "--jp-input-background"
    )
    assert (luminance(background) > 0.5) == (theme == "light"), background

    # 5. accessibility: no serious or critical axe-core violations
    assert serious_accessibility_violations(page, PANEL) == []
    screenshot(page, f"labadvisor-panel-{theme}.png")


def test_side_panel_errors_name_fields_by_their_labels(page: Any, lab: Lab) -> None:
    from playwright.sync_api import expect

    panel = open_panel(page)
    runtime = panel.locator("[data-form='runtime']")
    size = runtime.locator("input[name='model_size_gb']")
    size.fill("14")
    runtime.locator("button[type='submit']").click()
    expect(runtime.locator(".jp-labadvisor-choice")).to_be_visible()

    # 1. out of range: an error next to the field, the answer marked as not updated, and
    # nothing asked of the server
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/advise/" in r.url else None)
    for typed, problem in [
        ("-5", "Model size (GB) must be between 0 and 10,000; got -5"),
        ("1e9", "Model size (GB) must be between 0 and 10,000; got 1e9"),
        ("lots", 'Model size (GB) must be a number between 0 and 10,000; got "lots"'),
        ("0x10", 'Model size (GB) must be a number between 0 and 10,000; got "0x10"'),
    ]:
        size.fill(typed)
        page.locator("#labadvisor-panel").evaluate("p => { p.scrollTop = p.scrollHeight; }")
        runtime.locator("button[type='submit']").click()
        field = runtime.locator("[data-field='model_size_gb']")
        expect(field.locator(".jp-labadvisor-field-error")).to_have_text(problem)
        expect(size).to_have_attribute("aria-invalid", "true")
        expect(size).to_be_focused()  # the marked field is brought into view
        expect(size).to_be_in_viewport()
        expect(runtime.locator(".jp-labadvisor-error")).to_have_text(
            "Not updated: fix the marked field."
        )
        expect(runtime.locator(".jp-labadvisor-output")).to_have_class(
            re.compile(r"\bjp-labadvisor-outdated\b")
        )
    deployment = panel.locator("[data-form='deployment']")
    deployment.locator("input[name='users']").fill("-3")
    deployment.locator("button[type='submit']").click()
    expect(deployment.locator("[data-field='users'] .jp-labadvisor-field-error")).to_have_text(
        "Users must be between 1 and 100,000; got -3"
    )
    assert asked == [], asked
    screenshot(page, "labadvisor-panel-field-errors.png")

    # ... while "13GB" is a size, as the CLI and the magic take it
    size.fill("13GB")
    runtime.locator("button[type='submit']").click()
    expect(runtime.locator(".jp-labadvisor-choice")).to_be_visible()
    size_error = runtime.locator("[data-field='model_size_gb'] .jp-labadvisor-field-error")
    expect(size_error).to_be_hidden()
    assert asked and "/advise/runtime" in asked[-1], asked
    asked.clear()

    # 2. the server's messages name fields by the form's labels, never by keyword
    size.fill("")
    runtime.locator("button[type='submit']").click()
    error = runtime.locator(".jp-labadvisor-error")
    expect(error).to_contain_text("“Model size (GB)”")
    expect(error).to_contain_text("“Parameters (B)”")
    expect(error).to_contain_text("“Preset”")
    assert "model_size_gb" not in error.inner_text()
    assert "params_b" not in error.inner_text()

    # 3. "valid values: None, …" names "none" as the dropdown does. The dropdowns offer
    # only valid values, so the server's real message for a bad one is replayed.
    message = lab.error_message(
        "POST", "labadvisor/api/advise/deployment", {"users": 5, "gpu_sharing": "x"}
    )
    assert "valid values: None, mig, time-slicing" in message
    page.route(api_route("advise/deployment"), fulfill_json({"message": message}, 400))
    deployment.locator("input[name='users']").fill("5")
    deployment.locator("button[type='submit']").click()
    error = deployment.locator(".jp-labadvisor-error")
    expect(error).to_contain_text("unknown “GPU sharing” 'x'")
    expect(error).to_contain_text("valid values: none, mig, time-slicing")
    assert "gpu_sharing" not in error.inner_text()
    expect(deployment.locator("[data-field='gpu_sharing']")).to_have_class(
        re.compile(r"\bjp-labadvisor-invalid\b")
    )


def test_toasts_keep_the_fix_and_already_there_is_a_notice(page: Any, lab: Lab) -> None:
    from playwright.sync_api import expect

    # 1. switching to where you already are: a notice, not an error
    run_command(page, "labadvisor:use-local")
    expect(page.locator(".jp-Notification-Toast-success")).to_contain_text("Switched")
    run_command(page, "labadvisor:use-local")
    notice = page.locator(".jp-Notification-Toast-info")
    expect(notice).to_contain_text("Already on")
    expect(page.locator(".jp-Notification-Toast-error")).to_have_count(0)
    screenshot(page, "labadvisor-already-local.png")

    # 2. a long error keeps its fix in the toast, and "Details" shows all of it
    offload_host = lab.store.engines.offload_host
    lab.store.docker("context", "rm", "docker-cloud")
    try:
        message = lab.error_message("PUT", "labadvisor/api/contexts/current", {"name": "offload"})
        assert "`docker offload start`" in message and len(message) > 140, message
        run_command(page, "labadvisor:use-offload")
        toast = page.locator(".jp-Notification-Toast-error")
        expect(toast).to_contain_text("Could not switch to Docker Offload")
        expect(toast).to_contain_text("start Docker Offload with `docker offload start`")
        assert "…" not in toast.inner_text()
        toast.get_by_role("button", name="Details").click()
        dialog = page.locator(".jp-Dialog")
        expect(dialog.locator(".jp-labadvisor-details")).to_have_text(message)
        screenshot(page, "labadvisor-toast-details.png")
        dialog.get_by_role("button", name="Close").click()
    finally:
        lab.store.add_context("docker-cloud", offload_host)


@pytest.fixture
def fast_poll(lab: Lab) -> Iterator[None]:
    put_settings(lab, {"pollInterval": 1})
    yield
    put_settings(lab, {})


def test_status_bar_icon_opens_the_panel_and_gpu_figures_are_live(
    fast_poll: None, page: Any
) -> None:
    from playwright.sync_api import expect

    # 1. an icon; a click (or Enter) opens the Lab Advisor panel
    status = page.locator("#labadvisor-status")
    expect(status.locator(".jp-labadvisor-status-icon svg")).to_have_count(1)
    panel = page.locator(PANEL)
    run_command(page, "filebrowser:activate")
    expect(panel).to_be_hidden()
    status.click()
    expect(panel).to_be_visible()
    run_command(page, "filebrowser:activate")
    expect(panel).to_be_hidden()
    status.focus()
    page.keyboard.press("Enter")
    expect(panel).to_be_visible()

    # 2. GPU memory (GB) and utilization follow the live GET gpu at each poll
    device = {"index": 0, "name": "NVIDIA L4", "memory_total": 24 * GIB}
    device.update(memory_used=4 * GIB, memory_free=20 * GIB, utilization_gpu=37)
    report = {"status": "ok", "message": None, "devices": [device], "read_at": ""}
    page.route(api_route("gpu"), fulfill_json(lambda: report))
    gpu = status.locator(".jp-labadvisor-status-gpu")
    expect(gpu).to_have_text("GPU: NVIDIA L4 · 21.5/25.8 GB free · 37 %")
    expect(gpu).to_have_attribute(
        "title", "NVIDIA L4: 21.5 GB free of 25.8 GB, 37 % busy\nClick to open Lab Advisor"
    )
    device.update(memory_used=12 * GIB, memory_free=12 * GIB, utilization_gpu=90)
    expect(gpu).to_have_text("GPU: NVIDIA L4 · 12.9/25.8 GB free · 90 %")
    screenshot(page, "labadvisor-status-live.png")


def test_status_bar_shows_the_active_notebooks_own_context(page: Any, lab: Lab) -> None:
    """A kernel-scope switch (``use()``'s default) in a real kernel shows in the status bar
    while its notebook is the active one, and goes when the kernel goes."""
    from playwright.sync_api import expect

    context = page.locator("#labadvisor-status .jp-labadvisor-status-context")
    server = lab.api("contexts")["current"]
    kernel = open_notebook(
        page, lab, "scoped.ipynb", ["from labadvisor import contexts\ncontexts.use('docker-cloud')"]
    )
    run_all(page)
    expect(context).to_have_text("Docker: docker-cloud · offload · this notebook", timeout=30_000)
    expect(context).to_have_attribute("data-scope", "kernel")
    assert lab.api("contexts")["kernels"][kernel]["context"] == "docker-cloud"
    assert lab.api("contexts")["current"]["name"] == server["name"]  # the server's is kept
    screenshot(page, "labadvisor-status-kernel-scope.png")
    # another tab active: the server's own context again
    run_command(page, "launcher:create")
    expect(context).to_have_text(f"Docker: {server['name']} ({server['role']})")
    expect(context).to_have_attribute("data-scope", "server")
    # back to the notebook, then its kernel shut down: the server's context
    run_command(page, "docmanager:open", {"path": "scoped.ipynb"})
    expect(context).to_have_text("Docker: docker-cloud · offload · this notebook")
    close_and_shut_down(page)
    deadline = time.monotonic() + 60
    while kernel in lab.api("contexts")["kernels"]:
        assert time.monotonic() < deadline, "the kernel's own context outlived the kernel"
        page.wait_for_timeout(300)


MAGIC_CELLS = [
    "%load_ext labadvisor",
    "%labadvisor costs --hours 6",
    "import labadvisor\nlabadvisor.monthly_costs(hours_per_day=6)",
    "labadvisor.advise_runtime('13GB', gpu=None)",
]


def test_no_dollar_sign_is_typeset_after_run_all(page: Any, lab: Lab) -> None:
    """No MathJax or KaTeX node in any labadvisor output or demo notebook after Run All."""
    from playwright.sync_api import expect

    for source in sorted((ROOT / "notebooks").glob("*.ipynb")):
        shutil.copy(source, lab.root / source.name)
    names = [path.name for path in sorted((ROOT / "notebooks").glob("*.ipynb"))]
    open_notebook(page, lab, "magic.ipynb", MAGIC_CELLS)
    run_all(page)
    for name in ["magic.ipynb", *names]:
        if name != "magic.ipynb":
            open_notebook(page, lab, name)
            run_all(page)
        notebook = page.locator(".jp-NotebookPanel:visible")
        page.wait_for_timeout(1500)  # MathJax typesets after the output is in place
        expect(notebook.locator(".jp-OutputArea-output").first).to_be_visible()
        typeset = notebook.locator(MATH_NODES)
        assert typeset.count() == 0, (
            name,
            typeset.first.evaluate("n => (n.closest('.jp-Cell') || n).textContent.slice(0, 300)"),
        )
        if name == "06-costs-and-breakeven.ipynb":
            # the escape itself must not show: the reader sees "~$75/month", not "~\\$75"
            # text_content: cells scrolled out of view are laid out lazily, and inner_text is empty
            prose = notebook.locator(".jp-MarkdownOutput").first.text_content() or ""
            assert "~$75/month" in prose and "\\" not in prose, prose[:300]
        if name in ("magic.ipynb", "06-costs-and-breakeven.ipynb", "01-quickstart.ipynb"):
            screenshot(page, f"labadvisor-no-math-{name.removesuffix('.ipynb')}.png")
        close_and_shut_down(page)
    assert page.locator(f"{PANEL} {MATH_NODES}, #labadvisor-status {MATH_NODES}").count() == 0


# The dropdowns whose selected choice is wider than the box shows (text measured in the
# select's own font; 28 px for the padding and the arrow).
CUT_OFF_CHOICES = """selects => {
  const context = document.createElement('canvas').getContext('2d');
  return selects.filter(select => select.offsetParent !== null).flatMap(select => {
    const style = getComputedStyle(select);
    context.font = `${style.fontSize} ${style.fontFamily}`;
    const text = select.options[select.selectedIndex]?.text ?? '';
    const width = context.measureText(text).width;
    return width + 28 > select.clientWidth ? [`${text} (${Math.round(width)} px text, ` +
      `${select.clientWidth} px box)`] : [];
  });
}"""


PANEL_CELLS = [
    "from labadvisor.widgets import DeploymentPanel, RuntimePanel",
    "RuntimePanel(size_gb=14)",
    "DeploymentPanel()",
]


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_notebook_panels_pass_axe(page: Any, lab: Lab, theme: str, light_theme_after: None) -> None:
    from playwright.sync_api import expect

    set_theme(page, theme)
    open_notebook(page, lab, f"panels-{theme}.ipynb", PANEL_CELLS)
    run_all(page)
    outputs = page.locator(".jp-NotebookPanel:visible .jp-OutputArea-output")
    expect(outputs.locator(".widget-dropdown:visible").first).to_be_visible()
    # every dropdown shows its whole choice (a cut-off "not given (assumed fr" reads badly)
    assert outputs.locator(".widget-dropdown select").evaluate_all(CUT_OFF_CHOICES) == []
    # The error state too (issue 13: its text was a fixed red, too faint on the dark theme):
    # a negative size typed shows the error under the field and the "not updated" note.
    size = outputs.locator(".widget-text", has_text="Model size (GB)").locator("input").first
    size.fill("-5")
    size.press("Tab")  # a FloatText sends its value when it loses the focus
    expect(outputs.locator(".labadvisor-field-error")).to_contain_text(
        "Model size (GB) must be between 0 and 10,000; got -5"
    )
    expect(outputs.locator(".labadvisor-outdated-note")).to_contain_text("not updated")
    page.wait_for_timeout(1500)
    screenshot(page, f"labadvisor-notebook-panels-{theme}.png")
    # the panels' outputs (JupyterLab's own notebook chrome is not labadvisor's)
    count = outputs.evaluate_all(
        "nodes => nodes.filter(n => n.querySelector('.jupyter-widgets'))"
        ".map((n, i) => { n.id = `labadvisor-axe-${i}`; return i; }).length"
    )
    assert count == 2, count
    for index in range(count):
        violations = serious_accessibility_violations(page, f"#labadvisor-axe-{index}")
        assert violations == [], violations
