"""Facts about Python's builtins and standard library."""

FACTS = {
    "functions": {
        "copy.deepcopy": "arg:0",
        "copy.copy": "arg:0",
        "builtins.getattr": "getattr",
        "builtins.list": "arg:0",
        "builtins.enumerate": "enumerate",
        "builtins.zip": "zip",
        "itertools.product": "product",
    },
    "callbacks": {
        # map(fn, modules): fn is called with each element of the iterable.
        "builtins.map": {"argument": 0, "parameter": 0, "value": "element:1", "repeats": True},
    },
}
