"""Facts about Lightning: LightningModule, and Fabric's setup."""

FACTS = {
    "classes": {
        "lightning.LightningModule": "module",
        "lightning.pytorch.LightningModule": "module",
        "lightning.pytorch.core.LightningModule": "module",
        "pytorch_lightning.LightningModule": "module",
        "pytorch_lightning.core.LightningModule": "module",
        "lightning.Fabric": "class",
        "lightning.fabric.Fabric": "class",
    },
    "methods": {
        "lightning.**Fabric": {"setup": "args", "setup_module": "arg:0"},
    },
}
