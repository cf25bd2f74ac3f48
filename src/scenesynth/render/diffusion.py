"""Layout-to-image rendering with GLIGEN (diffusers' ``StableDiffusionGLIGENPipeline``).

Each object with a box becomes one grounding phrase (its attributes then its name, "red metal
cube") and one box normalised to ``[0, 1]`` (the only place boxes leave pixel space). The image
is generated at a model-friendly size with the graph's aspect ratio and resized to the graph's
size, so normalised boxes keep their meaning. Nothing is known exactly about the result:
``RenderResult.exact`` is False and the graph is the *requested* layout; a verifier (e.g.
:class:`scenesynth.quality.verify.DetectorVerifier`) must accept the image before use.
"""

from __future__ import annotations

import warnings
from typing import Any

from PIL import Image

from scenesynth.graph import SceneGraph, SceneObject
from scenesynth.models.common import require, resolve_device, resolve_dtype
from scenesynth.render.base import RenderResult

DEFAULT_GLIGEN = "masterful/gligen-1-4-generation-text-box"
GLIGEN_MAX_OBJECTS = 30  # the pipeline's grounding token budget


def object_phrase(obj: SceneObject) -> str:
    """Attributes then name, without repeats: ``"small red metal cube"``."""
    words: list[str] = []
    for value in obj.attribute_values():
        if value not in words and value != obj.name:
            words.append(value)
    return " ".join([*words, obj.name])


def grounding_inputs(
    graph: SceneGraph, max_objects: int = GLIGEN_MAX_OBJECTS
) -> tuple[list[str], list[list[float]], list[str]]:
    """(phrases, boxes in [0, 1] as x0 y0 x1 y1, object ids) for the objects that have boxes.

    Above ``max_objects``, the largest boxes are kept: small ones matter least to the layout.
    """
    w, h = graph.image.width, graph.image.height
    boxed = [o for o in graph.objects if o.box is not None]
    if len(boxed) > max_objects:
        boxed = sorted(boxed, key=lambda o: o.box.area if o.box else 0.0, reverse=True)
        boxed = boxed[:max_objects]
    phrases, boxes, ids = [], [], []
    for obj in boxed:
        assert obj.box is not None
        clipped = obj.box.clip(w, h)
        boxes.append([min(max(v, 0.0), 1.0) for v in clipped.to_normalized(w, h)])
        phrases.append(object_phrase(obj))
        ids.append(obj.id)
    return phrases, boxes, ids


def default_prompt(graph: SceneGraph) -> str:
    """``graph.meta["prompt"]`` when given, else "a photo of a red cube, a table and a cup"."""
    given = graph.meta.get("prompt") or graph.meta.get("caption")
    if isinstance(given, str) and given.strip():
        return given.strip()
    phrases = [object_phrase(o) for o in graph.objects]
    if not phrases:
        return "a photo"
    listed = phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]
    return f"a photo of {listed}"


def generation_size(
    width: int, height: int, long_side: int, multiple: int = 64
) -> tuple[int, int]:
    """The graph's aspect ratio with the long side ``long_side``, each side a ``multiple``."""
    scale = long_side / max(width, height)

    def snap(v: float) -> int:
        return max(multiple, round(v * scale / multiple) * multiple)

    return snap(width), snap(height)


class GligenRenderer:
    """:class:`~scenesynth.render.base.Renderer` backed by GLIGEN (box-grounded Stable Diffusion).

    ``model`` is a hub id or a local folder saved with ``save_pretrained``; ``device`` is
    ``"auto"``, ``"cpu"``, ``"cuda:0"``...; ``dtype`` ``"auto"`` (fp16 on GPU) or a torch dtype
    name. A ready ``pipeline`` may be passed instead (shared between renderers, or for tests).
    """

    name = "gligen"

    def __init__(
        self,
        model: str = DEFAULT_GLIGEN,
        device: str | None = "auto",
        dtype: str | None = "auto",
        num_inference_steps: int = 30,
        guidance_scale: float = 7.5,
        scheduled_sampling_beta: float = 0.3,
        long_side: int = 512,
        size_multiple: int = 64,
        negative_prompt: str | None = "low quality, blurry, distorted",
        pipeline: Any = None,
    ) -> None:
        self.model_name = model
        self.device_request = device
        self.dtype_request = dtype
        self.num_inference_steps = num_inference_steps
        self.guidance_scale = guidance_scale
        self.scheduled_sampling_beta = scheduled_sampling_beta
        self.long_side = long_side
        self.size_multiple = size_multiple
        self.negative_prompt = negative_prompt
        self._pipeline = pipeline
        self.device = "cpu"

    def load(self) -> Any:
        """The pipeline, loaded on first use."""
        if self._pipeline is None:
            diffusers = require("diffusers")
            self.device = resolve_device(self.device_request)
            dtype = resolve_dtype(self.dtype_request, self.device)
            with warnings.catch_warnings():
                # `torch_dtype` works on every supported diffusers; newer ones prefer `dtype`
                warnings.filterwarnings("ignore", message=".*torch_dtype.*", category=FutureWarning)
                pipe = diffusers.StableDiffusionGLIGENPipeline.from_pretrained(
                    self.model_name, torch_dtype=dtype
                )
            pipe.set_progress_bar_config(disable=True)
            self._pipeline = pipe.to(self.device)
        return self._pipeline

    def render(self, graph: SceneGraph, seed: int) -> RenderResult:
        phrases, boxes, ids = grounding_inputs(graph)
        if not phrases:
            raise ValueError(
                f"image {graph.image.id}: no object has a box to ground; lay the graph out first"
            )
        torch = require("torch")
        pipe = self.load()
        gen_w, gen_h = generation_size(
            graph.image.width, graph.image.height, self.long_side, self.size_multiple
        )
        generator = torch.Generator(device="cpu").manual_seed(seed)
        prompt = default_prompt(graph)
        output = pipe(
            prompt=prompt,
            negative_prompt=self.negative_prompt,
            gligen_phrases=phrases,
            gligen_boxes=boxes,
            gligen_scheduled_sampling_beta=self.scheduled_sampling_beta,
            height=gen_h,
            width=gen_w,
            num_inference_steps=self.num_inference_steps,
            guidance_scale=self.guidance_scale,
            generator=generator,
            output_type="pil",
        )
        image: Image.Image = output.images[0]
        if image.size != (graph.image.width, graph.image.height):
            image = image.resize((graph.image.width, graph.image.height), Image.Resampling.LANCZOS)
        rendered = graph.model_copy(deep=True)
        rendered.image = rendered.image.model_copy(update={"source": self.name, "path": None})
        rendered.meta["render"] = {
            "renderer": self.name,
            "model": self.model_name,
            "seed": seed,
            "prompt": prompt,
            "grounded_objects": ids,
            "generation_size": [gen_w, gen_h],
            "steps": self.num_inference_steps,
            "guidance_scale": self.guidance_scale,
        }
        return RenderResult(image=image, graph=rendered, depth_map=None, exact=False)
