"""Generate a deterministic, realistic tree of N PyTorch-ish Python files for benchmarking convlint.

Usage: `python benchmarks/make_corpus.py N DIR [--seed S] [--all-candidates]`. File i depends only
on (seed, i): a smaller tree is a subset of a larger one, so times across N compare like for like.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import math
import os
import random
import shutil
import sys
import time
from pathlib import Path
from string import Template

FILES_PER_PROJECT = 250
# File 617 of every 1,000 has 10,000+ lines (generated code, big test files).
HUGE_EVERY, HUGE_AT = 1000, 617
MEMORY_FORMAT_SHARE = 0.02
STAMP = ".corpus.json"

# Each project is a repository: a src/ package, configs, scripts and tests. A slot's directory
# cycles through this pattern, so every directory gets files at a realistic rate.
DIRS = {
    "pkg": ("src/$P", "utils"),
    "models": ("src/$P/models", "model"),
    "backbones": ("src/$P/models/backbones", "model"),
    "heads": ("src/$P/models/heads", "model"),
    "data": ("src/$P/data", "data"),
    "utils": ("src/$P/utils", "utils"),
    "engine": ("src/$P/engine", "train"),
    "ops": ("src/$P/ops", "model"),
    "configs": ("configs", "config"),
    "scripts": ("scripts", "train"),
    "tests": ("tests", "tests"),
    "tests_models": ("tests/models", "tests"),
}
PACKAGES = ("pkg", "models", "backbones", "heads", "data", "utils", "engine", "ops")
SLOT_PATTERN = (
    "models backbones heads models data utils engine scripts tests models ops configs "
    "backbones data tests_models utils scripts heads tests pkg"
).split()

# Import keys: "module" (import module), "module as alias", or "module:name" (from module
# import name, merged per module). Files import only what their chunks use.
THIRD_PARTY = ("numpy", "pytest", "timm", "torch")

ADJECTIVES = ("Residual Bottleneck Dense Dilated Gated Shallow Deep Light Fused Mixed Multi Cross "
              "Local Global Spatial Temporal Depthwise Inverted Squeeze Pyramid Dual Cascade Sparse").split()
NOUNS = ("Block Stem Head Neck Encoder Decoder Layer Stage Adapter Projector Pooler Mixer Fusion "
         "Refiner Aggregator Unit Branch").split()
MODELS = "Net ResNet UNet ConvNet Backbone Classifier Detector Segmenter Autoencoder Regressor".split()
VERBS = "compute build load prepare collect update normalize resize merge split parse score gather".split()
OBJECTS = ("batch features targets metrics weights logits boxes masks tokens samples stats config "
           "checkpoint schedule anchors labels").split()
WORDS = ("vision audio video detection segmentation tracking depth pose ocr retrieval speech "
         "imaging medical satellite robotics lidar").split()
ACTIVATIONS = "ReLU SiLU GELU Hardswish Mish".split()


class Names:
    """Fresh identifiers for one file (no redefinitions: ruff's F811 stays quiet)."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.used: set[str] = set()

    def fresh(self, base: str) -> str:
        name, k = base, 2
        while name in self.used:
            name, k = f"{base}{k}", k + 1
        self.used.add(name)
        return name

    def cls(self, nouns=NOUNS) -> str:
        return self.fresh(self.rng.choice(ADJECTIVES) + self.rng.choice(nouns))

    def fn(self) -> str:
        return self.fresh(f"{self.rng.choice(VERBS)}_{self.rng.choice(OBJECTS)}")


# --------------------------------------------------------------------------- code chunks
# A chunk is (imports it needs, template). Templates use $names; `roles` are names other
# chunks of the same file define (a model class, a training function) and may reference.

CONV_BLOCK = ({"torch", "torch.nn as nn"}, '''
class $cls(nn.Module):
    """$adj convolution block: two 3x3 convolutions with a projection shortcut."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        # Bias is redundant before a normalization layer.
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.act = nn.$act()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )
        else:
            self.shortcut = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = self.shortcut(x)
        out = self.act(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.act(out + identity)
''')

ATTENTION_BLOCK = ({"torch", "torch.nn as nn", "torch.nn.functional as F"}, '''
class $cls(nn.Module):
    """Multi-head self-attention over the spatial positions of a feature map."""

    def __init__(self, dim: int, num_heads: int = $heads, dropout: float = $p) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.norm = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        self.dropout = dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        tokens = self.norm(x.flatten(2).transpose(1, 2))
        q, k, v = self.qkv(tokens).reshape(b, h * w, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        attn = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0)
        out = self.proj(attn.transpose(1, 2).reshape(b, h * w, c))
        return x + out.transpose(1, 2).reshape(b, c, h, w)
''')

MODEL = ({"torch", "torch.nn as nn"}, '''
class $cls(nn.Module):
    """$adj classification network: a convolutional stem, $depth stages and a linear head.

    Args:
        num_classes: size of the output layer.
        width: channels after the stem; each stage doubles them.
    """

    def __init__(self, num_classes: int = $classes, width: int = $width, depth: int = $depth) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        )
        layers = []
        channels = width
        for _ in range(depth):
            layers.append(nn.Conv2d(channels, channels * 2, kernel_size=3, stride=2, padding=1))
            layers.append(nn.BatchNorm2d(channels * 2))
            layers.append(nn.$act())
            channels *= 2
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(p=$p)
        self.fc = nn.Linear(channels, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(self.stem(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.forward_features(x)
        x = torch.flatten(self.pool(x), 1)
        return self.fc(self.dropout(x))
''')

BUILDER = ({"torch"}, '''
def $fn(pretrained: bool = False, checkpoint: str = "$word.pth", **kwargs) -> "$model":
    """Build a $model, optionally loading pretrained weights from `checkpoint`."""
    model = $model(**kwargs)
    if pretrained:
        state = torch.load(checkpoint, map_location="cpu")
        # Checkpoints saved by the trainer wrap the weights in a dict.
        model.load_state_dict(state["model"] if "model" in state else state)
    return model
''')

TRAIN_EPOCH = ({"torch", "torch.nn as nn", "time", "logging"}, '''
def $fn(model, loader, optimizer, scaler, device, epoch: int, log_interval: int = $interval) -> float:
    """Train for one epoch and return the mean loss."""
    model.train()
    criterion = nn.CrossEntropyLoss(label_smoothing=$smoothing)
    total, count = 0.0, 0
    start = time.time()
    for step, (images, targets) in enumerate(loader):
        images = images.to(device, non_blocking=True)
        targets = targets.to(device, non_blocking=True)
        with torch.autocast(device_type="cuda", dtype=torch.float16, enabled=scaler is not None):
            logits = model(images)
            loss = criterion(logits, targets)
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
        total += loss.item() * images.size(0)
        count += images.size(0)
        if step % log_interval == 0:
            rate = count / max(time.time() - start, 1e-6)
            logger.info("epoch %d step %d loss %.4f (%.1f img/s)", epoch, step, loss.item(), rate)
    return total / max(count, 1)
''')

EVALUATE = ({"torch"}, '''
@torch.no_grad()
def $fn(model, loader, device, topk: tuple = (1, $topk)) -> dict:
    """Top-k accuracy of `model` on `loader`, in percent."""
    model.eval()
    correct = {k: 0 for k in topk}
    seen = 0
    for images, targets in loader:
        images, targets = images.to(device), targets.to(device)
        logits = model(images)
        _, predicted = logits.topk(max(topk), dim=1)
        hits = predicted.eq(targets.view(-1, 1))
        for k in topk:
            correct[k] += hits[:, :k].any(dim=1).sum().item()
        seen += targets.numel()
    return {f"top{k}": 100.0 * correct[k] / max(seen, 1) for k in topk}
''')

MAIN = ({"argparse", "torch", "os", "torch.utils.data:DataLoader"}, '''
def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Train a $word model.")
    parser.add_argument("--data", type=str, default="/datasets/$word")
    parser.add_argument("--epochs", type=int, default=$epochs)
    parser.add_argument("--batch-size", type=int, default=$batch)
    parser.add_argument("--lr", type=float, default=$lr)
    parser.add_argument("--weight-decay", type=float, default=0.05)
    parser.add_argument("--workers", type=int, default=$workers)
    parser.add_argument("--amp", action="store_true", help="train with mixed precision")
    parser.add_argument("--output", type=str, default="runs/$word")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = $model().to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    scaler = torch.cuda.amp.GradScaler() if args.amp else None
    dataset = torch.utils.data.TensorDataset(torch.randn(64, 3, 64, 64), torch.randint(0, 10, (64,)))
    loader = DataLoader(dataset, batch_size=args.batch_size, shuffle=True, num_workers=args.workers)
    os.makedirs(args.output, exist_ok=True)
    for epoch in range(args.epochs):
        loss = $train(model, loader, optimizer, scaler, device, epoch)
        torch.save({"model": model.state_dict(), "epoch": epoch, "loss": loss},
                   os.path.join(args.output, f"epoch_{epoch:03d}.pth"))


if __name__ == "__main__":
    main()
''')

DATASET = ({"os", "numpy as np", "torch", "torch.utils.data:Dataset", "typing:Any", "typing:Optional"}, '''
class $cls(Dataset):
    """Images stored as .npy arrays under `root/<class>/`, one class per directory."""

    def __init__(self, root: str, split: str = "train", transform: Optional[Any] = None) -> None:
        self.root = os.path.join(root, split)
        self.transform = transform
        self.classes = sorted(d for d in os.listdir(self.root) if not d.startswith("."))
        self.samples = []
        for index, name in enumerate(self.classes):
            folder = os.path.join(self.root, name)
            for file in sorted(os.listdir(folder)):
                if file.endswith(".npy"):
                    self.samples.append((os.path.join(folder, file), index))

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        path, label = self.samples[index]
        image = np.load(path).astype(np.float32) / 255.0
        if self.transform is not None:
            image = self.transform(image)
        return torch.from_numpy(image).permute(2, 0, 1), label
''')

TRANSFORM = ({"numpy as np", "random"}, '''
def $fn(image, size: int = $size, flip: float = 0.5):
    """Random crop of `size` pixels and a horizontal flip, on an HWC array."""
    h, w = image.shape[:2]
    top = random.randint(0, max(h - size, 0))
    left = random.randint(0, max(w - size, 0))
    image = image[top : top + size, left : left + size]
    if random.random() < flip:
        image = image[:, ::-1]
    # Normalize with the ImageNet statistics.
    mean = np.array([0.485, 0.456, 0.406], dtype=np.float32)
    std = np.array([0.229, 0.224, 0.225], dtype=np.float32)
    return (image - mean) / std
''')

COLLATE = ({"torch"}, '''
def $fn(batch):
    """Stack images and pad variable-length targets to the longest one."""
    images = torch.stack([item[0] for item in batch])
    longest = max(len(item[1]) for item in batch)
    targets = torch.full((len(batch), longest), -1, dtype=torch.long)
    for row, (_, target) in enumerate(batch):
        targets[row, : len(target)] = torch.as_tensor(target)
    return images, targets
''')

AVERAGE_METER = (set(), '''
class $cls:
    """Tracks the latest value and the running average of a metric."""

    def __init__(self, name: str, fmt: str = ":.4f") -> None:
        self.name = name
        self.fmt = fmt
        self.reset()

    def reset(self) -> None:
        self.val = 0.0
        self.sum = 0.0
        self.count = 0

    def update(self, val: float, n: int = 1) -> None:
        self.val = val
        self.sum += val * n
        self.count += n

    @property
    def avg(self) -> float:
        return self.sum / self.count if self.count else 0.0

    def __str__(self) -> str:
        return ("{name} {val" + self.fmt + "} ({avg" + self.fmt + "})").format(
            name=self.name, val=self.val, avg=self.avg
        )
''')

SEED = ({"random", "numpy as np", "torch", "os"}, '''
def $fn(seed: int = $seed, deterministic: bool = False) -> None:
    """Seed every generator a training run uses."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    if deterministic:
        # Deterministic kernels are slower; only for debugging.
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
''')

CHECKPOINT = ({"os", "torch", "json", "pathlib:Path"}, '''
def $fn(state: dict, directory: str, name: str = "last.pth", keep: int = $keep) -> str:
    """Save a checkpoint and its metadata; keep only the newest `keep` checkpoints."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    torch.save(state, path)
    meta = {k: v for k, v in state.items() if isinstance(v, (int, float, str))}
    (folder / (name + ".json")).write_text(json.dumps(meta, indent=2))
    old = sorted(folder.glob("*.pth"), key=os.path.getmtime)[:-keep]
    for stale in old:
        stale.unlink()
    return str(path)
''')

SCHEDULE = ({"math"}, '''
def $fn(step: int, total_steps: int, base_lr: float = $lr, warmup: int = $warmup, floor: float = 1e-6) -> float:
    """Linear warm-up, then cosine decay to `floor`."""
    if step < warmup:
        return base_lr * (step + 1) / warmup
    progress = (step - warmup) / max(total_steps - warmup, 1)
    return floor + 0.5 * (base_lr - floor) * (1.0 + math.cos(math.pi * min(progress, 1.0)))
''')

TIMER = ({"contextlib", "time", "logging"}, '''
@contextlib.contextmanager
def $fn(label: str, threshold: float = $threshold):
    """Log how long the block took when it exceeds `threshold` seconds."""
    start = time.perf_counter()
    try:
        yield
    finally:
        elapsed = time.perf_counter() - start
        if elapsed > threshold:
            logger.warning("%s took %.3f s", label, elapsed)
''')

FLATTEN = (set(), '''
def $fn(tree: dict, prefix: str = "", sep: str = ".") -> dict:
    """Flatten nested dicts: {"a": {"b": 1}} -> {"a.b": 1}."""
    flat = {}
    for key, value in tree.items():
        name = f"{prefix}{sep}{key}" if prefix else str(key)
        if isinstance(value, dict):
            flat.update($fn(value, name, sep))
        else:
            flat[name] = value
    return flat
''')

PARSE_LINES = ({"typing:Any"}, '''
def $fn(lines, comment: str = "#") -> list:
    """Parse `key = value` lines, skipping comments and blanks; values become int, float or str."""
    entries = []
    for number, raw in enumerate(lines, 1):
        line = raw.split(comment, 1)[0].strip()
        if not line:
            continue
        if "=" not in line:
            raise ValueError(f"line {number}: expected key = value, got {raw!r}")
        key, value = (part.strip() for part in line.split("=", 1))
        parsed: Any = value
        for cast in (int, float):
            try:
                parsed = cast(value)
                break
            except ValueError:
                continue
        entries.append((key, parsed))
    return entries
''')

CONFIG = ({"dataclasses:dataclass", "dataclasses:field"}, '''
@dataclass
class $cls:
    """Hyper-parameters of a $word experiment."""

    name: str = "$word"
    image_size: int = $size
    batch_size: int = $batch
    epochs: int = $epochs
    lr: float = $lr
    weight_decay: float = 0.05
    warmup_steps: int = $warmup
    num_classes: int = $classes
    drop_path: float = $p
    mixed_precision: bool = True
    mean: list = field(default_factory=lambda: [0.485, 0.456, 0.406])
    std: list = field(default_factory=lambda: [0.229, 0.224, 0.225])
    milestones: list = field(default_factory=list)

    def scaled_lr(self, world_size: int) -> float:
        # Linear scaling rule (Goyal et al.).
        return self.lr * self.batch_size * world_size / 256
''')

CONFIG_TABLE = (set(), '''
$const = {
    "tiny": {"depth": 2, "width": $width, "heads": 3, "mlp_ratio": 4.0, "drop_path": 0.0},
    "small": {"depth": 4, "width": $width2, "heads": 6, "mlp_ratio": 4.0, "drop_path": 0.1},
    "base": {"depth": 8, "width": $width3, "heads": 12, "mlp_ratio": 4.0, "drop_path": 0.2},
    "large": {"depth": 12, "width": $width4, "heads": 16, "mlp_ratio": 4.0, "drop_path": 0.3},
}
''')

TEST_SHAPES = ({"torch", "torch.nn as nn", "pytest"}, '''
@pytest.mark.parametrize("batch_size", [1, 2, $batch])
def $fn(batch_size):
    block = nn.Sequential(nn.Conv2d(3, $width, 3, padding=1), nn.BatchNorm2d($width), nn.ReLU())
    out = block(torch.randn(batch_size, 3, $size, $size))
    assert out.shape == (batch_size, $width, $size, $size)
    assert torch.isfinite(out).all()
''')

TEST_GRAD = ({"torch", "torch.nn as nn"}, '''
def $fn():
    """Every parameter gets a gradient from a scalar loss."""
    torch.manual_seed($seed)
    model = nn.Sequential(nn.Linear($width, $width), nn.GELU(), nn.Linear($width, 1))
    loss = model(torch.randn(4, $width)).pow(2).mean()
    loss.backward()
    for name, param in model.named_parameters():
        assert param.grad is not None, name
        assert param.grad.abs().sum() > 0, name
''')

# ----- chunks that mention memory_format (about 2 % of files carry one)

MF_MODULE = ({"torch", "torch.nn as nn"}, '''
def $fn(model: nn.Module, channels_last: bool = True) -> nn.Module:
    """Prepare a model for inference."""
    model = model.eval()
    if channels_last:
        # NHWC is faster for convolutions on tensor cores.
        model = model.to(memory_format=torch.channels_last)
    return model
''')

MF_MODULE_TRAINER = ({"torch"}, '''
class $cls:
    """Owns the model and its optimizer for one training run."""

    def __init__(self, model, cfg) -> None:
        self.model = model
        if cfg.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=cfg.lr, momentum=0.9)

    def step(self, images, targets, criterion) -> float:
        images = images.to(memory_format=torch.channels_last)
        loss = criterion(self.model(images), targets)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return loss.item()
''')

MF_MODULE_FACTORY = ({"torch", "timm"}, '''
def $fn(name: str = "resnet50", device: str = "cuda"):
    net = timm.create_model(name, pretrained=True)
    net = net.to(device).to(memory_format=torch.channels_last)
    return net
''')

MF_MODULE_3D = ({"torch", "torch.nn as nn"}, '''
def $fn(channels: int = $width):
    video_net = nn.Sequential(nn.Conv3d(3, channels, 3, padding=1), nn.BatchNorm3d(channels), nn.ReLU())
    return video_net.to(memory_format=torch.channels_last_3d)
''')

MF_FORMAT_VARIABLE = ({"torch"}, '''
def $fn(model, images, channels_last: bool):
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=memory_format)
    images = images.to(memory_format=memory_format)
    return model(images)
''')

MF_TENSOR = ({"torch"}, '''
def $fn(batch, device, channels_last: bool = True):
    """Move a batch to the device in the layout the model expects."""
    images, targets = batch
    if channels_last:
        images = images.to(device, non_blocking=True, memory_format=torch.channels_last)
    else:
        images = images.to(device, non_blocking=True)
    return images, targets.to(device, non_blocking=True)
''')

MF_TENSOR_CONTIGUOUS = ({"torch"}, '''
def $fn(x: torch.Tensor) -> torch.Tensor:
    x = x.contiguous(memory_format=torch.channels_last)
    sample = torch.randn(2, 3, $size, $size).to(memory_format=torch.channels_last)
    return x + sample.mean()
''')

MF_CONTIGUOUS_ONLY = ({"torch"}, '''
def $fn(examples):
    """Collate a diffusers-style batch: pixel values in a contiguous float tensor."""
    pixel_values = torch.stack([example["pixel_values"] for example in examples])
    pixel_values = pixel_values.to(memory_format=torch.contiguous_format).float()
    input_ids = torch.stack([example["input_ids"] for example in examples])
    return {"pixel_values": pixel_values, "input_ids": input_ids}
''')

MF_COMMENT_ONLY = ({"torch"}, '''
def $fn(latents):
    """Decode latents. Not channels_last: the decoder holds 5-D buffers."""
    # channels_last would restride them too, see PyTorch issue 77821.
    return latents.to(memory_format=torch.contiguous_format).float()
''')

# (chunk, weight): the share of memory_format files of each kind. Most use it on tensors.
MF_CHUNKS = [
    (MF_MODULE, 8), (MF_MODULE_TRAINER, 5), (MF_MODULE_FACTORY, 3), (MF_MODULE_3D, 2),
    (MF_FORMAT_VARIABLE, 3), (MF_TENSOR, 15), (MF_TENSOR_CONTIGUOUS, 8),
    (MF_CONTIGUOUS_ONLY, 40), (MF_COMMENT_ONLY, 16),
]
CANDIDATE_MF_CHUNKS = [(c, w) for c, w in MF_CHUNKS if c is not MF_CONTIGUOUS_ONLY]

KIND_CHUNKS = {
    "model": [(CONV_BLOCK, 4), (ATTENTION_BLOCK, 2), (MODEL, 3), (BUILDER, 2), (FLATTEN, 1)],
    "train": [(TRAIN_EPOCH, 2), (EVALUATE, 2), (SEED, 1), (CHECKPOINT, 1), (SCHEDULE, 1),
              (AVERAGE_METER, 1), (TIMER, 1)],
    "data": [(DATASET, 3), (TRANSFORM, 3), (COLLATE, 2), (PARSE_LINES, 1)],
    "utils": [(AVERAGE_METER, 1), (SEED, 1), (CHECKPOINT, 1), (SCHEDULE, 1), (TIMER, 1),
              (FLATTEN, 2), (PARSE_LINES, 2)],
    "config": [(CONFIG, 3), (CONFIG_TABLE, 2), (FLATTEN, 1)],
    "tests": [(TEST_SHAPES, 3), (TEST_GRAD, 2), (CONV_BLOCK, 1)],
}


def _pick(rng: random.Random, weighted):
    chunks, weights = zip(*weighted)
    return rng.choices(chunks, weights)[0]


def _fill(rng: random.Random, names: Names, roles: dict, chunk) -> str:
    """Render one chunk with fresh names and plausible numbers."""
    needs, template = chunk
    width = rng.choice((32, 48, 64, 96, 128))
    values = {
        "cls": names.cls(MODELS if chunk is MODEL else NOUNS),
        "fn": names.fresh(f"test_{rng.choice(OBJECTS)}") if chunk in (TEST_SHAPES, TEST_GRAD) else names.fn(),
        "const": names.fresh(f"{rng.choice(WORDS).upper()}_VARIANTS"),
        "adj": rng.choice(ADJECTIVES), "act": rng.choice(ACTIVATIONS), "word": rng.choice(WORDS),
        "heads": rng.choice((4, 8, 16)), "p": rng.choice((0.0, 0.1, 0.2, 0.3)),
        "classes": rng.choice((10, 100, 1000)), "width": width, "width2": width * 2,
        "width3": width * 4, "width4": width * 8, "depth": rng.randint(2, 5),
        "interval": rng.choice((10, 50, 100)), "smoothing": rng.choice((0.0, 0.1)),
        "topk": rng.choice((3, 5)), "epochs": rng.choice((30, 90, 300)),
        "batch": rng.choice((16, 32, 64, 128, 256)), "lr": rng.choice((1e-3, 3e-4, 0.1, 5e-4)),
        "workers": rng.choice((2, 4, 8)), "size": rng.choice((32, 64, 96, 224)),
        "seed": rng.randint(0, 9999), "keep": rng.randint(2, 5), "warmup": rng.choice((500, 1000, 2000)),
        "threshold": rng.choice((0.1, 0.5, 1.0)),
        "model": roles.get("model", "nn.Identity"), "train": roles.get("train", "train_one_epoch"),
    }
    if chunk is MODEL:
        roles["model"] = values["cls"]
    if chunk is TRAIN_EPOCH:
        roles["train"] = values["fn"]
    roles["imports"].update(needs)
    return Template(template).substitute(values)


def render_file(rng: random.Random, kind: str, lines: int, mf_chunk=None, package_init: bool = False) -> str:
    """One file's source: a docstring, the imports its chunks use, then the chunks."""
    names = Names(rng)
    roles: dict = {"imports": set()}
    parts = []
    if package_init:
        module = rng.choice(OBJECTS)
        parts.append(f'\nfrom .{module} import {module}_api\n\n__all__ = ["{module}_api"]\n')
    else:
        count = 0
        while count < lines:
            chunk = _pick(rng, KIND_CHUNKS[kind])
            if chunk is BUILDER and "model" not in roles:
                chunk = MODEL
            text = _fill(rng, names, roles, chunk)
            parts.append(text)
            count += text.count("\n") + 1
        if kind == "train" and rng.random() < 0.5:
            roles.setdefault("model", "nn.Identity")
            roles["imports"].add("torch.nn as nn")
            if "train" not in roles:
                parts.append(_fill(rng, names, roles, TRAIN_EPOCH))
            parts.append(_fill(rng, names, roles, MAIN))
    if mf_chunk is not None:
        # Where real code converts: after the model and helpers, before any main().
        at = len(parts) - 1 if parts and "__main__" in parts[-1] else len(parts)
        parts.insert(at, _fill(rng, names, roles, mf_chunk))
    docstring = f"{rng.choice(WORDS).capitalize()} {kind} code: {rng.choice(OBJECTS)} and {rng.choice(OBJECTS)}."
    header = [f'"""{docstring}"""', "", "from __future__ import annotations", ""]
    groups = import_lines(roles["imports"])
    for group in groups:
        header += group + [""]
    if "logging" in roles["imports"]:
        header += ["logger = logging.getLogger(__name__)", ""]
    # PEP 8: two blank lines before a top-level def or class.
    gap = "\n" if package_init else "\n\n"
    body = "\n".join(p.strip("\n") + "\n\n" for p in parts).rstrip("\n")
    return "\n".join(header).rstrip("\n") + "\n" + gap + body + "\n"


def import_lines(keys: set[str]) -> list[list[str]]:
    """isort-style import groups (standard library, then third party) for a set of import keys."""
    plain, names = set(), {}
    for key in keys:
        if ":" in key:
            module, name = key.split(":")
            names.setdefault(module, set()).add(name)
        else:
            plain.add(key)
    lines = [(k.split(".")[0].split()[0], f"import {k}") for k in plain]
    lines += [(m.split(".")[0], f"from {m} import {', '.join(sorted(n))}") for m, n in names.items()]
    # isort's order: plain imports before from-imports, then by module.
    stdlib = sorted((line for top, line in lines if top not in THIRD_PARTY), key=lambda s: (s[0] == "f", s))
    third = sorted((line for top, line in lines if top in THIRD_PARTY), key=lambda s: (s[0] == "f", s))
    return [group for group in (stdlib, third) if group]


def _project_layout(seed: int, project: int) -> list[tuple[str, str, bool]]:
    """(relative path, kind, is a package __init__) of each slot of one project."""
    rng = random.Random(f"{seed}:layout:{project}")
    name = f"{rng.choice(WORDS)}_{project}"
    layout, used, inits = [], set(), set()
    for slot in range(FILES_PER_PROJECT):
        key = SLOT_PATTERN[slot % len(SLOT_PATTERN)]
        directory, kind = DIRS[key]
        directory = directory.replace("$P", name)
        if key in PACKAGES and directory not in inits:
            inits.add(directory)
            layout.append((f"{name}/{directory}/__init__.py", kind, True))
            continue
        stem = f"test_{rng.choice(OBJECTS)}" if kind == "tests" else f"{rng.choice(OBJECTS)}_{rng.choice(VERBS)}"
        path, k = f"{name}/{directory}/{stem}.py", 2
        while path in used:
            path, k = f"{name}/{directory}/{stem}_{k}.py", k + 1
        used.add(path)
        layout.append((path, kind, False))
    return layout


def file_spec(seed: int, index: int, all_candidates: bool):
    """File `index`'s rng, target line count and memory_format chunk (or None)."""
    rng = random.Random(f"{seed}:file:{index}")
    if index % HUGE_EVERY == HUGE_AT:
        lines = rng.randint(10_000, 14_000)
    else:
        # Log-normal sizes: median about 130 lines, clamped to 50..2,000.
        lines = int(min(2000, max(50, math.exp(rng.gauss(math.log(130), 0.85)))))
    mf_chunk = None
    if all_candidates:
        mf_chunk = _pick(rng, CANDIDATE_MF_CHUNKS)
    elif rng.random() < MEMORY_FORMAT_SHARE:
        mf_chunk = _pick(rng, MF_CHUNKS)
    return rng, lines, mf_chunk


def generate(n: int, directory: str, seed: int = 0, all_candidates: bool = False) -> dict:
    """Write the tree (replacing `directory`) and return its summary, also saved as .corpus.json."""
    start = time.perf_counter()
    root = Path(directory)
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    (root / ".gitignore").write_text("__pycache__/\n*.egg-info/\nruns/\n")
    layout, layout_project = [], -1
    total_lines = total_bytes = mf_files = 0
    for index in range(n):
        project, slot = divmod(index, FILES_PER_PROJECT)
        if project != layout_project:
            layout, layout_project = _project_layout(seed, project), project
        path, kind, package_init = layout[slot]
        rng, lines, mf_chunk = file_spec(seed, index, all_candidates)
        text = render_file(rng, kind, lines, mf_chunk, package_init)
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        data = text.encode()
        target.write_bytes(data)
        total_lines += text.count("\n")
        total_bytes += len(data)
        mf_files += mf_chunk is not None
    summary = {
        "files": n, "seed": seed, "all_candidates": all_candidates, "lines": total_lines,
        "bytes": total_bytes, "memory_format_files": mf_files, "generator": generator_version(),
        "seconds": round(time.perf_counter() - start, 2),
    }
    (root / STAMP).write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def generator_version() -> str:
    """Changes whenever this script changes: a stale corpus is regenerated."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]


def ensure(n: int, directory: str, seed: int = 0, all_candidates: bool = False) -> dict:
    """The tree at `directory`, generated unless an identical one is already there."""
    try:
        summary = json.loads((Path(directory) / STAMP).read_text())
        if (summary["files"], summary["seed"], summary["all_candidates"], summary["generator"]) == (
            n, seed, all_candidates, generator_version()
        ):
            return summary
    except (OSError, ValueError, KeyError):
        pass
    return generate(n, directory, seed, all_candidates)


def self_check(directory: str, every: int = 25) -> int:
    """ast-parse every `every`-th file and every file naming memory_format; returns the count."""
    checked = 0
    for index, path in enumerate(sorted(Path(directory).rglob("*.py"))):
        data = path.read_bytes()
        if index % every == 0 or b"memory_format" in data or len(data) > 200_000:
            ast.parse(data, filename=str(path))
            checked += 1
    return checked


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, help="number of .py files")
    parser.add_argument("directory", help="where to write the tree (replaced if it exists)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--all-candidates", action="store_true",
                        help="every file names memory_format and channels_last (the worst case)")
    parser.add_argument("--no-check", action="store_true", help="skip parsing a sample afterwards")
    args = parser.parse_args(argv)
    if os.path.realpath(args.directory).startswith(os.path.realpath(Path(__file__).parents[1])):
        parser.error("write corpora outside the repository (e.g. under /tmp)")
    summary = generate(args.n, args.directory, args.seed, args.all_candidates)
    if not args.no_check:
        summary["parsed_sample"] = self_check(args.directory)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
