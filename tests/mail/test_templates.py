"""The shipped templates, the operator's replacements, and what a render refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from authward.mail import TEMPLATE_VALUES, Mail, MailTemplateError, Renderer

SHIPPED = Path(__file__).parents[2] / "src" / "authward" / "mail" / "templates"


def sample(template: str) -> Mail:
    values = {name: f"<{name}&value>" for name in TEMPLATE_VALUES[template]}
    if "stage" in values:
        values["stage"] = "changed"
    return Mail(to="ada@example.com", template=template, values=values)


@pytest.mark.parametrize("template", sorted(TEMPLATE_VALUES))
def test_every_template_renders_each_value_in_text_and_escaped_html(template: str) -> None:
    body = Renderer().render(sample(template))
    assert body.subject and "\n" not in body.subject
    for name in TEMPLATE_VALUES[template] - {"stage"}:
        assert f"<{name}&value>" in body.text
        assert f"&lt;{name}&amp;value&gt;" in body.html
        assert f"<{name}&value>" not in body.html


@pytest.mark.parametrize("template", sorted(TEMPLATE_VALUES))
def test_a_missing_value_is_refused(template: str) -> None:
    mail = sample(template)
    for name in mail.values:
        short = {k: v for k, v in mail.values.items() if k != name}
        with pytest.raises(MailTemplateError):
            Renderer().render(Mail(mail.to, template, short))


def test_each_shipped_template_has_its_three_files_and_no_more() -> None:
    names = {p.name.split(".")[0] for p in SHIPPED.iterdir() if not p.name.startswith("_")}
    assert names == set(TEMPLATE_VALUES)


def test_an_unknown_template_is_refused() -> None:
    with pytest.raises(MailTemplateError, match="no template"):
        Renderer().render(Mail("ada@example.com", "welcome", {}))
    with pytest.raises(MailTemplateError, match="not a template name"):
        Renderer().render(Mail("ada@example.com", "../password_reset", {}))


def test_an_undefined_value_in_an_operator_template_is_refused(tmp_path: Path) -> None:
    (tmp_path / "welcome.subject.txt").write_text("Hello")
    (tmp_path / "welcome.txt").write_text("Hello {{ name }}")
    (tmp_path / "welcome.html").write_text("<p>Hello</p>")
    with pytest.raises(MailTemplateError, match="name"):
        Renderer(tmp_path).render(Mail("ada@example.com", "welcome", {}))
    body = Renderer(tmp_path).render(Mail("ada@example.com", "welcome", {"name": "Ada"}))
    assert body.text == "Hello Ada"


def test_the_operators_folder_replaces_a_shipped_template(tmp_path: Path) -> None:
    (tmp_path / "password_reset.txt").write_text("Ours: {{ link }} for {{ email }}")
    body = Renderer(tmp_path).render(sample("password_reset"))
    assert body.text == "Ours: <link&value> for <email&value>"
    assert body.subject == "Reset your password"  # the rest still shipped


@pytest.mark.parametrize("to", ["ada@example.com\r\nBcc: eve@example.com", "ada", "a@b\x00"])
def test_a_recipient_that_is_not_one_address_is_refused(to: str) -> None:
    mail = sample("password_changed")
    with pytest.raises(MailTemplateError, match="recipient"):
        Renderer().render(Mail(to, mail.template, mail.values))


def test_a_value_cannot_break_the_subject_into_headers(tmp_path: Path) -> None:
    (tmp_path / "notice.subject.txt").write_text("About {{ what }}")
    (tmp_path / "notice.txt").write_text("x")
    (tmp_path / "notice.html").write_text("x")
    mail = Mail("ada@example.com", "notice", {"what": "x\r\nBcc: eve@example.com"})
    with pytest.raises(MailTemplateError, match="one line"):
        Renderer(tmp_path).render(mail)
