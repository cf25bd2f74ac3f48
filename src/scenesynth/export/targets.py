"""Which trainer reads each exported file, and how: the dataset card and the README say it."""

from __future__ import annotations

from pathlib import Path

from scenesynth.export.jsonfmt import DATASET_INFO, MULTI_IMAGE_SUFFIX


def how_to_load(fmt: str, path: Path) -> str:
    """One line telling a user how the trainer behind ``fmt`` loads ``path``."""
    folder = path.parent
    if fmt == "llava":
        if path.stem.endswith(MULTI_IMAGE_SUFFIX):
            return (f"LLaVA-OneVision / LLaVA-NeXT-interleave (`image` is a list, one <image> "
                    f"per image): list it in the data YAML, image_folder {folder}")
        return f"LLaVA-1.5: --data_path {path} --image_folder {folder}"
    if fmt in ("llama-factory", "sharegpt"):
        if path.name == DATASET_INFO:
            return f"LLaMA-Factory's dataset registry for this folder: dataset_dir: {folder}"
        return f"LLaMA-Factory: dataset_dir: {folder}, dataset: scenesynth"
    if fmt == "parquet":
        return f'datasets.load_dataset("parquet", data_files="{path}")'
    if fmt == "webdataset":
        return ('webdataset.WebDataset(shards).decode("pil").to_tuple("json", "0.jpg;0.png"); '
                'all images: sample[k] for k in sample["json"]["images"]')
    return ""
