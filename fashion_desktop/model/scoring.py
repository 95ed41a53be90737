"""The one scoring path: decode photos (threads) while a model scores uint8 batches; sigmoid scores out.

The tagging engine, ``fashion evaluate`` and the trainer's validation and test passes all score through
``logits_for_batch``, so a photo gets the same numbers wherever it is scored (same resize, same
normalisation, same precision handling).
"""

from __future__ import annotations

import math
import os
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .archs import ArchError, get_arch, model_logits
from .bundle import Bundle, load_bundle
from .devices import autocast_dtype, cpu_count, resolve_device
from .groups import group_softmax
from .images import load_for_model
from .problems import PathProblem

# torch >= 2.5 has the device-neutral name; older CUDA builds only the CUDA one.
_OOM_ERRORS: tuple[type[BaseException], ...] = tuple(
    {
        e
        for e in (getattr(torch, "OutOfMemoryError", None), getattr(torch.cuda, "OutOfMemoryError", None))
        if e
    }
)


class EngineError(RuntimeError):
    """The run as a whole cannot go on (e.g. out of memory even one image at a time)."""


@dataclass(frozen=True)
class ScoreOptions:
    """How to run a model over photos.

    ``batch_size`` None picks 16 on the CPU (bigger batches fall out of cache there) and 64 on a GPU.
    ``precision``: ``auto`` (bf16 on CPUs with native bf16, AMP on CUDA, fp32 otherwise), ``fp32``,
    ``bf16`` or ``fp16``. ``decode_workers``/``num_threads`` None: on the CPU about a third of the
    cores decode and the rest run torch; with a GPU up to 8 threads decode.
    ``prefetch_batches`` decoded batches wait ahead of the model at most (memory stays bounded).
    ``model_workers`` batches are scored at once (None: two single-threaded ones on small CPUs, else
    one; always one on a GPU).
    ``fold_batchnorm`` merges each eval-mode BatchNorm into the convolution before it (same maths,
    one pass over memory less per layer).
    """

    device: str = "auto"
    batch_size: int | None = None
    precision: str = "auto"
    channels_last: bool = True
    num_threads: int | None = None
    decode_workers: int | None = None
    prefetch_batches: int = 2
    progress_interval_s: float = 0.5
    fold_batchnorm: bool = True
    model_workers: int | None = None


def _is_oom(exc: BaseException) -> bool:
    if isinstance(exc, _OOM_ERRORS):
        return True
    # MPS and some CPU allocators report exhaustion as a plain RuntimeError.
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


class Normalise:
    """``(x / 255 - mean) / std`` for uint8 pixels, folded into one multiply-add done on ``device``."""

    def __init__(self, mean: Iterable[float], std: Iterable[float], device: torch.device) -> None:
        std_t = torch.tensor(list(std), dtype=torch.float32) * 255.0
        mean_t = torch.tensor(list(mean), dtype=torch.float32) * 255.0
        self.scale = (1.0 / std_t).view(1, 3, 1, 1).to(device)
        self.shift = (-mean_t / std_t).view(1, 3, 1, 1).to(device)
        self.device = device

    def __call__(self, batch: torch.Tensor, channels_last: bool = True) -> torch.Tensor:
        """Normalised float32 NCHW (channels_last memory unless asked otherwise) for a uint8 NHWC batch."""
        x = batch.to(self.device, non_blocking=True).permute(0, 3, 1, 2)  # NHWC memory = channels_last
        if not channels_last:
            x = x.contiguous()
        return x.float().mul_(self.scale).add_(self.shift)


def _autocast(device: torch.device, dtype: torch.dtype | None) -> AbstractContextManager:
    if dtype is None:
        return nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def logits_for_batch(
    model: Callable[[torch.Tensor], torch.Tensor | tuple],
    batch: torch.Tensor,
    normalise: Normalise,
    amp_dtype: torch.dtype | None,
    channels_last: bool = True,
    tta_flip: bool = False,
    exclusive: Sequence[np.ndarray] = (),
) -> torch.Tensor:
    """The one forward pass: float32 logits [B, L] (on the model's device) for a uint8 [B, H, W, 3] batch.

    Used by the tagging engine, ``fashion evaluate`` and the trainer's validation and test passes, so
    that a photo scores the same wherever it is scored. The caller chooses grad/inference mode. With
    ``tta_flip`` (a bundle's ``tta_flip``) the mirror image is scored too, and the logits returned are
    those whose scores are the mean of the two (``mean_score_logits``; ``exclusive`` as in
    ``sigmoid_scores``).
    """
    x = normalise(batch, channels_last)
    with _autocast(normalise.device, amp_dtype):
        logits = model_logits(model(x)).float()
        if not tta_flip:
            return logits
        mirrored = model_logits(model(x.flip(3))).float()
    return mean_score_logits(logits, mirrored, exclusive)


def mean_score_logits(a: torch.Tensor, b: torch.Tensor, exclusive: Sequence[np.ndarray] = ()) -> torch.Tensor:
    """Logits whose ``sigmoid_scores`` are the mean of the scores of logits ``a`` and ``b`` (same shape).

    A sigmoid label gets ``log(p_a + p_b) - log(q_a + q_b)`` (p the scores, q = 1 - p), an exclusive
    group the log of its mean softmax; both are computed from log-probabilities, so saturated logits
    stay finite.
    """
    a, b = a.float(), b.float()
    log_p = torch.logaddexp(F.logsigmoid(a), F.logsigmoid(b))
    log_q = torch.logaddexp(F.logsigmoid(-a), F.logsigmoid(-b))
    out = log_p - log_q
    for cols in exclusive:
        c = torch.as_tensor(np.asarray(cols), dtype=torch.long, device=a.device)
        mixed = torch.logaddexp(a[:, c].log_softmax(1), b[:, c].log_softmax(1)) - math.log(2.0)
        out[:, c] = mixed
    return out


def sigmoid_scores(logits: torch.Tensor, exclusive: Sequence[np.ndarray] = ()) -> np.ndarray:
    """Scores in [0, 1] (float32, on the CPU) from logits: the only logits-to-scores step of the codebase.

    Each label's sigmoid, except the labels of an exclusive group (``exclusive``: column indices per
    group, ``Bundle.exclusive_columns()``), which get the softmax over their group.
    """
    logits = logits.float()
    scores = torch.sigmoid(logits).cpu().numpy()
    if exclusive:
        group_softmax(logits.cpu().numpy(), scores, exclusive)
    return scores


class HeadInput:
    """The pooled features a model's classification head reads, caught by a hook during the forward pass
    that scores a batch (no second pass). Per thread: several model workers may share one model."""

    def __init__(self, head: torch.nn.Module) -> None:
        self._local = threading.local()
        head.register_forward_pre_hook(self._hook)

    @classmethod
    def find(cls, model: torch.nn.Module, arch: str) -> HeadInput | None:
        """The hook on ``arch``'s head (the registry's first head prefix) of ``model``; None when it has none."""
        try:
            return cls(model.get_submodule(get_arch(arch).head_prefixes[0]))
        except (ArchError, AttributeError, IndexError):
            return None

    def _hook(self, _module: torch.nn.Module, inputs: tuple) -> None:
        caught = getattr(self._local, "caught", None)
        if caught is not None:
            caught.append(inputs[0])

    @contextmanager
    def catch(self) -> Iterator[list[torch.Tensor]]:
        """Inside, each head input of this thread's forward passes is appended to the list yielded."""
        self._local.caught = caught = []
        try:
            yield caught
        finally:
            self._local.caught = None

    @staticmethod
    def pooled(caught: Sequence[torch.Tensor]) -> np.ndarray | None:
        """float32 [B, D] on the CPU: the one input caught, or the mean of a photo and its mirror image's."""
        if not caught:
            return None
        flat = [t.detach().float().flatten(1) for t in caught]
        mean = flat[0] if len(flat) == 1 else torch.stack(flat).mean(0)
        return mean.cpu().numpy()


class ModelRunner:
    """A bundle's model placed on a device: uint8 NHWC batches in, sigmoid scores out.

    Raises DeviceError (from ``resolve_device``) for an absent device and BundleError when the
    weights do not fit the architecture.
    """

    def __init__(self, bundle: Bundle, options: ScoreOptions | None = None) -> None:
        options = options or ScoreOptions()
        self.bundle = bundle
        self.exclusive = bundle.exclusive_columns()
        self.tta_flip = bundle.tta_flip  # each photo and its mirror image, scores averaged
        self.options = options
        self.device = resolve_device(options.device)
        self.amp_dtype = autocast_dtype(self.device, options.precision)
        self.batch_size = int(options.batch_size or (16 if self.device.type == "cpu" else 64))
        if self.batch_size < 1:
            raise ValueError("batch size must be at least 1")
        self.max_batch = self.batch_size
        cpus = cpu_count()
        if self.device.type == "cpu":
            # Decoding and the forward pass share the CPUs: give each its own cores rather than let
            # decode threads preempt torch's OpenMP workers, which then stall at every barrier.
            self.decode_workers = options.decode_workers or max(1, round(cpus / 3))
            self.num_threads = options.num_threads or max(1, cpus - self.decode_workers)
            # A second single-threaded forward pass in flight soaks up the CPU time decoding leaves
            # idle, without OpenMP teams that stall whenever a decode thread takes one of their cores.
            if options.model_workers:
                self.model_workers = options.model_workers
            elif options.num_threads is None and self.num_threads <= 2:
                self.model_workers, self.num_threads = 2, 1
            else:
                self.model_workers = 1
        else:
            self.decode_workers = options.decode_workers or min(cpus, 8)
            self.num_threads = options.num_threads or torch.get_num_threads()
            self.model_workers = 1  # one stream of batches keeps a GPU busy; OOM halving stays simple
        self.channels_last = options.channels_last
        model = bundle.build_model()
        if options.fold_batchnorm:
            model = fold_batchnorm(model, bundle.input_size)
        if self.amp_dtype is not None:
            keep_first_conv_fp32(model)
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)
        self.model: Callable[[torch.Tensor], torch.Tensor] = model.to(self.device).eval()
        self.head_input = HeadInput.find(model, bundle.arch)
        self.normalise = Normalise(bundle.mean, bundle.std, self.device)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        self.notices: list[str] = []

    @property
    def input_size(self) -> int:
        return int(self.bundle.input_size)

    @property
    def pin_memory(self) -> bool:
        return self.device.type == "cuda"

    def describe(self) -> str:
        precision = {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[self.amp_dtype]
        threads = (
            f", torch threads: {self.num_threads} x {self.model_workers} batches at once"
            if self.device.type == "cpu"
            else ""
        )
        return f"{self.device} {precision}, batch {self.batch_size}, decode threads: {self.decode_workers}{threads}"

    def forward(self, batch: torch.Tensor) -> tuple[np.ndarray, np.ndarray | None]:
        """Scores [B, L] float32 for a uint8 [B, H, W, 3] batch and the pooled features [B, D] its head read
        (None for a model without a known head), from one forward pass (no OOM handling)."""
        catch = self.head_input.catch() if self.head_input is not None else nullcontext([])
        with torch.inference_mode(), catch as caught:
            logits = logits_for_batch(
                self.model,
                batch,
                self.normalise,
                self.amp_dtype,
                self.channels_last,
                self.tta_flip,
                self.exclusive,
            )
            features = HeadInput.pooled(caught)
        return sigmoid_scores(logits, self.exclusive), features

    def scores(self, batch: torch.Tensor | np.ndarray) -> np.ndarray:
        """Scores [B, L] for a uint8 [B, H, W, 3] batch (``scores_and_features`` without the features)."""
        return self.scores_and_features(batch)[0]

    def scores_and_features(self, batch: torch.Tensor | np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Scores [B, L] and pooled features [B, D] (None without a known head) for a uint8 [B, H, W, 3] batch.

        On out-of-memory the batch is halved and the same images retried; the smaller size is kept
        for later batches. Raises EngineError only when a single image does not fit.
        """
        if isinstance(batch, np.ndarray):
            batch = torch.from_numpy(batch)
        n = int(batch.shape[0])
        parts: list[tuple[np.ndarray, np.ndarray | None]] = []
        start = 0
        while start < n:
            size = min(self.max_batch, n - start)
            try:
                parts.append(self.forward(batch[start : start + size]))
            except Exception as exc:
                if not _is_oom(exc):
                    raise
                self._free_cached_memory()
                if size == 1:
                    raise EngineError(
                        f"out of memory on {self.device} even with one image at a time; "
                        "use a smaller model or --device cpu"
                    ) from exc
                self.max_batch = max(1, size // 2)
                self.notices.append(
                    f"out of memory on {self.device} with batch {size}; retrying with batch {self.max_batch}"
                )
                continue
            start += size
        if len(parts) == 1:
            return parts[0]
        scores = np.concatenate([p[0] for p in parts])
        features = [p[1] for p in parts]
        return scores, (None if any(f is None for f in features) else np.concatenate(features))  # type: ignore[arg-type]

    def _free_cached_memory(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        elif self.device.type == "mps":
            torch.mps.empty_cache()


def fold_batchnorm(model: torch.nn.Module, input_size: int = 224) -> torch.nn.Module:
    """Merge every BatchNorm2d that directly follows a Conv2d into that convolution (eval mode only).

    Pairs are found by running one small forward pass with hooks (a BatchNorm whose input is the very
    tensor a convolution produced), so it works for any architecture, including ones that call
    ``F.conv2d`` inside custom modules. The folded model is checked against the original on a random
    input; if they disagree (e.g. a convolution's output is also used elsewhere) the original is
    returned unchanged. Returns the model to use.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a one-image probe gains nothing from threads, and loses on a busy CPU
    try:
        return _fold_batchnorm(model, input_size)
    finally:
        torch.set_num_threads(threads)


def _fold_batchnorm(model: torch.nn.Module, input_size: int) -> torch.nn.Module:
    if not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules()):
        return model
    # Outputs are kept alive so that no later tensor can reuse the id of one that was freed.
    convs: dict[int, tuple[torch.Tensor, torch.nn.Module]] = {}
    pairs: list[tuple[torch.nn.Module, str]] = []
    names = {id(m): n for n, m in model.named_modules()}

    def on_conv(mod: torch.nn.Module, _inp: tuple, out: torch.Tensor) -> None:
        convs[id(out)] = (out, mod)

    def on_bn(mod: torch.nn.Module, inp: tuple) -> None:
        found = convs.get(id(inp[0]))
        if found is not None and not mod.training:
            pairs.append((found[1], names[id(mod)]))

    hooks = []
    for mod in model.modules():
        if isinstance(mod, torch.nn.Conv2d):
            hooks.append(mod.register_forward_hook(on_conv))
        elif isinstance(mod, torch.nn.BatchNorm2d) and mod.track_running_stats:
            hooks.append(mod.register_forward_pre_hook(on_bn))
    # A small probe keeps start-up quick; 96 px is enough for every registry CNN (Inception needs 75).
    size = min(input_size, 96)
    probe = torch.rand(1, 3, size, size)
    try:
        with torch.inference_mode():
            reference = model_logits(model(probe))
    finally:
        for h in hooks:
            h.remove()
    if not pairs or len({id(c) for c, _ in pairs}) != len(pairs):
        return model
    import copy

    folded = copy.deepcopy(model)
    modules = dict(folded.named_modules())
    conv_names = {id(m): n for n, m in model.named_modules()}
    with torch.no_grad():
        for conv, bn_name in pairs:
            c = modules[conv_names[id(conv)]]
            bn = modules[bn_name]
            scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            bias = c.bias if c.bias is not None else torch.zeros_like(bn.running_mean)
            c.weight.copy_(c.weight * scale.view(-1, 1, 1, 1))
            c.bias = torch.nn.Parameter((bias - bn.running_mean) * scale + bn.bias)
            parent, _, attr = bn_name.rpartition(".")
            setattr(modules[parent] if parent else folded, attr, torch.nn.Identity())
        check = model_logits(folded(probe))
    scale = float(reference.abs().max()) + 1e-6
    if not torch.allclose(check, reference, rtol=1e-3, atol=1e-4 * scale):
        return model
    return folded.eval()


def keep_first_conv_fp32(model: torch.nn.Module) -> None:
    """Run the convolution that reads the pixels outside autocast.

    Rounding normalised pixels to bf16 (8 mantissa bits) is coarser than the photo's own 8-bit
    levels, and that early error grows through the network: on EfficientNet-Lite0 it flipped the top
    label of ~5 % of real photos against fp32, ~3 % with this layer in fp32, for ~3 % of the compute.
    """
    first = next((m for m in model.modules() if isinstance(m, torch.nn.Conv2d) and m.in_channels == 3), None)
    if first is None:
        return
    original = first.forward

    def forward(x: torch.Tensor, *args: object, **kwargs: object) -> torch.Tensor:
        with torch.autocast(x.device.type, enabled=False):
            return original(x.float(), *args, **kwargs)

    first.forward = forward  # type: ignore[method-assign]


@dataclass
class DecodedBatch:
    """Photos decoded for the model: ``pixels`` is uint8 [B, H, W, 3] (None when all failed)."""

    paths: list[Path]
    pixels: torch.Tensor | None
    failures: list[PathProblem]


_DONE = object()


class _ProducerFailed:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def _safe_load(path: Path, size: int, resize: str) -> np.ndarray | PathProblem:
    try:
        return load_for_model(path, size, resize)
    except Exception as exc:  # load_for_model reports bad files itself; this is the unforeseen rest
        return PathProblem(path, f"unexpected error while decoding ({type(exc).__name__}: {exc})")


def iter_decoded(
    paths: Iterable[Path],
    input_size: int,
    resize: str = "squash",
    batch_size: int = 16,
    workers: int | None = None,
    stop: threading.Event | None = None,
    pin_memory: bool = False,
) -> Iterator[DecodedBatch]:
    """Decode ``paths`` with a thread pool (PIL releases the GIL) into batches of ``batch_size`` photos.

    Photos that fail are reported with the batch in which they turned up; at most two batches of
    photos are being decoded at once, whatever the number of paths. Stops early when ``stop`` is set.
    """
    workers = workers or cpu_count()
    window = max(2 * batch_size, workers)
    stop = stop or threading.Event()
    it = iter(paths)
    pending: deque[tuple[Path, Future]] = deque()
    with ThreadPoolExecutor(workers, thread_name_prefix="fashion-decode") as pool:

        def top_up() -> None:
            while len(pending) < window and not stop.is_set():
                p = next(it, None)
                if p is None:
                    return
                pending.append((p, pool.submit(_safe_load, p, input_size, resize)))

        try:
            top_up()
            while pending and not stop.is_set():
                ok: list[Path] = []
                pixels: list[np.ndarray] = []
                failures: list[PathProblem] = []
                while pending and len(ok) < batch_size:
                    p, fut = pending.popleft()
                    top_up()
                    result = fut.result()
                    if isinstance(result, PathProblem):
                        failures.append(PathProblem(p, result.reason))
                    else:
                        ok.append(p)
                        pixels.append(result)
                tensor = torch.from_numpy(np.stack(pixels)) if pixels else None
                if tensor is not None and pin_memory:
                    tensor = tensor.pin_memory()
                yield DecodedBatch(ok, tensor, failures)
        finally:
            for _, fut in pending:
                fut.cancel()


def _producer(batches: Iterator[DecodedBatch], out: queue.Queue, stop: threading.Event) -> None:
    def put(item: object) -> None:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    try:
        for batch in batches:
            put(batch)
        put(_DONE)
    except BaseException as exc:  # surfaced in the consumer, which owns error handling
        put(_ProducerFailed(exc))
    finally:
        batches.close()  # type: ignore[attr-defined]


def as_runner(bundle: Bundle | ModelRunner | str | os.PathLike, options: ScoreOptions) -> ModelRunner:
    """``bundle`` itself when it is a ModelRunner, else a runner for the bundle (or bundle file)."""
    if isinstance(bundle, ModelRunner):
        return bundle
    if not isinstance(bundle, Bundle):
        bundle = load_bundle(bundle)
    return ModelRunner(bundle, options)


@dataclass(frozen=True)
class ScoredBatch:
    """One model batch: the photos scored (``scores`` [B, L] float32, None when all failed), the photos
    that could not be used with the reason, notices raised while scoring (e.g. the batch was halved), and
    the pooled features [B, D] float32 the head read in that same pass (None without a known head)."""

    paths: list[Path]
    scores: np.ndarray | None
    failures: list[PathProblem]
    notices: tuple[str, ...] = field(default=())
    features: np.ndarray | None = None


def score_paths(
    paths: Iterable[str | os.PathLike],
    runner: ModelRunner,
    stop: threading.Event | None = None,
) -> Iterator[ScoredBatch]:
    """Decode and score ``paths`` in order of completion, decoding overlapping the forward passes.

    Stops after the current batch once ``stop`` is set (or the generator is closed); memory stays
    bounded by ``prefetch_batches`` decoded batches. Raises EngineError when a single image does not
    fit in memory, and what the model raises otherwise.
    """
    stop = stop or threading.Event()
    threads_before = torch.get_num_threads()
    if runner.device.type == "cpu":
        torch.set_num_threads(runner.num_threads)
    ready: queue.Queue = queue.Queue(maxsize=max(1, runner.options.prefetch_batches))
    scored: queue.Queue = queue.Queue()  # holds at most one item per model worker beyond ``ready``
    batches = iter_decoded(
        (Path(p) for p in paths),
        runner.input_size,
        runner.bundle.resize,
        runner.batch_size,
        runner.decode_workers,
        stop,
        runner.pin_memory,
    )
    threads = [
        threading.Thread(target=_producer, args=(batches, ready, stop), name="fashion-decode", daemon=True)
    ]
    threads += [
        threading.Thread(
            target=_model_worker, args=(runner, ready, scored, stop), name=f"fashion-model-{i}", daemon=True
        )
        for i in range(runner.model_workers)
    ]
    for t in threads:
        t.start()
    running = runner.model_workers
    try:
        while running and not stop.is_set():
            item = scored.get()
            if item is _DONE:
                running -= 1
                continue
            if isinstance(item, _ProducerFailed):
                raise item.exc
            batch, (scores, features) = item
            notices = tuple(runner.notices)
            runner.notices.clear()
            yield ScoredBatch(batch.paths, scores, batch.failures, notices, features)
    finally:
        stop.set()
        while any(t.is_alive() for t in threads):
            for q in (ready, scored):
                try:
                    q.get(timeout=0.02)
                except queue.Empty:
                    pass
        for t in threads:
            t.join()
        if runner.device.type == "cpu":
            torch.set_num_threads(threads_before)


def _model_worker(
    runner: ModelRunner, ready: queue.Queue, scored: queue.Queue, stop: threading.Event
) -> None:
    """Score decoded batches until the producer is done; several of these may share one runner."""
    while not stop.is_set():
        try:
            item = ready.get(timeout=0.1)
        except queue.Empty:
            continue
        if item is _DONE:
            ready.put(_DONE)  # the other workers must see the end too; a slot was just freed
            break
        if isinstance(item, _ProducerFailed):
            scored.put(item)
            break
        try:
            scored_features = (
                runner.scores_and_features(item.pixels) if item.pixels is not None else (None, None)
            )
        except BaseException as exc:  # surfaced in the generator, which owns error handling
            scored.put(_ProducerFailed(exc))
            break
        scored.put((item, scored_features))
    scored.put(_DONE)
