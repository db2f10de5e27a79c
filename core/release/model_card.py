"""The MODEL_CARD.md a bundle carries, written from the release's own evidence."""

from __future__ import annotations

from typing import Any

__all__ = ["model_card"]

SLICE_ROWS = 3  # worst slices shown per slices check


def _interval(check: dict[str, Any]) -> str:
    interval = check.get("interval") or {}
    if interval.get("low") is None:
        value = check.get("value")
        return "—" if value is None else f"{value:.4g}"  # a skipped or non-numeric check
    confidence = interval.get("confidence", 0.95) * 100
    return (
        f"{interval['value']:.4g} [{interval['low']:.4g}, {interval['high']:.4g}] "
        f"({confidence:g} %)"
    )


def _metrics(validation: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| suite | check | kind | value (interval) | needs | verdict |",
        "|---|---|---|---|---|---|",
    ]
    slices = []
    for run in validation:
        for check in run.get("checks", []):
            lines.append(
                f"| {run['suite']} | {check['id']} | {check['kind']} | {_interval(check)} | "
                f"{check.get('threshold') or '-'} | {check['verdict']} |"
            )
            if check["kind"] == "slices":
                found = (check.get("evidence") or {}).get("slices", [])
                worst = sorted(found, key=lambda s: s.get("value", 0))[:SLICE_ROWS]
                slices += [
                    f"- {check['id']}: {s['slice']} ({s['rows']} rows) {s['value']:.4g} "
                    f"[{s['low']:.4g}, {s['high']:.4g}]"
                    for s in worst
                ]
    if slices:
        lines += ["", "Worst slices:", "", *slices]
    return lines


def model_card(manifest: dict[str, Any], description: str | None, people: dict[str, str]) -> str:
    """Markdown for a bundle's manifest; ``people`` maps fingerprints to display labels."""
    name, version = manifest["model"], manifest["version"]
    lines = [f"# {name} {version} (release {manifest['counter']}, {manifest['channel']})", ""]
    lines += ["## Intended use", "", (description or "No description was recorded.").strip(), ""]
    lines += ["## Evaluation", ""]
    lines += (
        _metrics(manifest.get("validation", []))
        if manifest.get("validation")
        else ["No validation suite was required."]
    )
    explanation = manifest.get("explanation")
    lines += ["", "## Top features by SHAP", ""]
    if explanation:
        lines.append(
            f"Mean |SHAP| of {explanation['output']} ({explanation['method']}, "
            f"{explanation['space']} space) over {explanation['rows']} rows of "
            f"{explanation['dataset']}:"
        )
        lines += ["", "| feature | mean abs SHAP |", "|---|---|"]
        lines += [f"| {t['feature']} | {t['mean_abs_shap']:.4g} |"
                  for t in explanation["top_features"]]  # fmt: skip
    else:
        lines.append("No explanation of this version was computed.")
    lines += ["", "## Latency per target", "", "| target | percentile | latency | budget |"]
    lines += ["|---|---|---|---|"]
    for target, bench in sorted(manifest.get("benchmarks", {}).items()):
        summary = bench.get("summary", {})
        percentile = summary.get("percentile", 95)
        budget = summary.get("budget_ms")
        lines.append(
            f"| {target} | p{percentile} | {summary.get(f'p{percentile}_ms', float('nan')):.3f} ms"
            f" | {f'{budget:g} ms' if budget else 'none'} |"
        )
    runtime = manifest.get("runtime", {})
    lines += ["", "## Runtime", ""]
    lines.append(f"- onnxruntime {runtime.get('onnxruntime')} (validated with it)")
    opsets = runtime.get("opsets", {})
    lines.append(
        "- opsets: " + ", ".join(f"{domain or 'ai.onnx'} {v}" for domain, v in opsets.items())
    )
    lines.append(f"- providers: {', '.join(runtime.get('providers', []))}")
    lines += ["", "## Approvals", ""]
    author = manifest.get("author", {}).get("key", "")
    lines.append(f"- author: {people.get(author, author[:16])}")
    for approval in manifest.get("approvals", []):
        who = people.get(approval["key"], approval["key"][:16])
        lines.append(f"- approved by {who} on {approval['created_at'][:19]}: {approval['comment']}")
    lines += ["", "## Limitations", ""]
    not_passed = [
        f"- {run['suite']} / {check['id']}: {check['verdict']}"
        for run in manifest.get("validation", [])
        for check in run.get("checks", [])
        if check["verdict"] != "PASS"
    ]
    lines += not_passed or ["- Every required check passed on the datasets listed in the manifest."]
    lines.append(
        f"- Validated only on {', '.join(sorted(manifest.get('datasets', {}))) or 'no dataset'}; "
        f"benchmarked only on {', '.join(sorted(manifest.get('benchmarks', {}))) or 'no target'}."
    )
    if manifest.get("expires_at"):
        lines.append(f"- Expires on {manifest['expires_at'][:10]}: devices refuse it after that.")
    return "\n".join(lines) + "\n"
