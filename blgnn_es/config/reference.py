"""The config key reference (docs/config.md), generated from the models' declarations.

Regenerate after changing a setting: ``python -m blgnn_es.config.reference > docs/config.md``
(tests/test_config.py fails while the committed file differs).
"""

from __future__ import annotations

from blgnn_es.config.baselines import EvaluationSettings
from blgnn_es.config.schema import reference_table
from blgnn_es.config.settings import Config
from blgnn_es.config.study import GENOMES_DESCRIPTION, StudyFile

_INTRO = """# Config reference

Generated from the declarations in `blgnn_es/config/` by
`python -m blgnn_es.config.reference > docs/config.md`; do not edit by hand.
Unknown sections and keys are errors, and so is a value outside its allowed range
(the CLI exits with code 2 and names the file, the key, the value and what is allowed).
"""


def reference_markdown() -> str:
    """Every run-config and study-config key: section, key, type, default, allowed, meaning."""
    parts = [_INTRO, "## Run configs (`blgnn-es evolve --config`)\n"]
    for section, field in Config.model_fields.items():
        parts.append(reference_table(section, field.annotation))
    parts.append("## Study configs (`blgnn-es study`)\n")
    for section, field in StudyFile.model_fields.items():
        if section == "genomes":
            parts.append(f"### [genomes]\n\n{GENOMES_DESCRIPTION[0].upper()}"
                         f"{GENOMES_DESCRIPTION[1:]}, for example `heb = \"genomes/heb.npy\"`. "
                         "At least one is required.\n")
        else:
            parts.append(reference_table(section, field.annotation))
    parts.append("## Evaluation protocol (`blgnn-es evaluate` defaults)\n")
    parts.append(reference_table("evaluate", EvaluationSettings))
    return "\n".join(parts)


if __name__ == "__main__":
    print(reference_markdown(), end="")
