"""Tasks: the classification problems a learning rule is meta-trained and tested on.

>>> from blgnn_es.tasks import parse_task_spec, load_task, draw_unroll
>>> task = load_task(parse_task_spec("two-moons:noise=0.1"), seed=3)
>>> data = draw_unroll(task, seed=7, steps=15, batch=128, eval_batches=20)
>>> data.x_train.shape, data.y_eval.shape
((15, 128, 2), (20, 128))

Families: 2-D toy rules (toy.py), image sets (images.py, store.py), the user's own files
(files.py); spec strings and tables (spec.py); seeds (seeds.py). Workers should receive
(spec, seed) pairs and call load_task themselves: image arrays are shared per process
through a memo and a memory-mapped decoded cache, not pickled.
"""

from .catalog import FamilyInfo, list_task_families
from .load import load_task
from .seeds import derive_seed
from .spec import TaskSpec, parse_task_spec
from .task import TWO_CLASS_CODINGS, ArrayTask, Task, output_size
from .unroll import UnrollData, draw_unroll, small_split_notes

__all__ = [
    "TWO_CLASS_CODINGS",
    "ArrayTask",
    "FamilyInfo",
    "Task",
    "TaskSpec",
    "UnrollData",
    "derive_seed",
    "draw_unroll",
    "list_task_families",
    "load_task",
    "output_size",
    "parse_task_spec",
    "small_split_notes",
]
