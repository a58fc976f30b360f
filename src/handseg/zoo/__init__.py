"""The model zoo: pretrained models shipped as safetensors + a JSON card, found by name, published from runs."""

from handseg.zoo.card import update_card
from handseg.zoo.publishing import publish
from handseg.zoo.segmenter import Segmenter, load_model
from handseg.zoo.store import (
    ZOO_ENV,
    ZooModel,
    find_model,
    get_model,
    is_zoo_name,
    list_pretrained,
    load_pretrained,
    package_dir,
    search_path,
)

__all__ = [
    "ZOO_ENV",
    "Segmenter",
    "ZooModel",
    "find_model",
    "get_model",
    "is_zoo_name",
    "list_pretrained",
    "load_model",
    "load_pretrained",
    "package_dir",
    "publish",
    "search_path",
    "update_card",
]
