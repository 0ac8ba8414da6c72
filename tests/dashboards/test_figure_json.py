"""A chart's figure JSON is embedded in the page inside <script type="application/json">:
text from imported files (a drug or payer name) cannot end that element."""

from __future__ import annotations

import json

from dashboards.views import _figure_json


def test_a_name_holding_a_closing_script_tag_stays_inside_the_figure() -> None:
    figure = {"data": [{"x": ["</script><img src=x onerror=alert(1)>", "A & B"], "y": [1, 2]}]}
    embedded = _figure_json(figure)
    assert "<" not in embedded
    assert ">" not in embedded
    assert "&" not in embedded
    assert json.loads(embedded) == figure  # what the page's JSON.parse reads back
