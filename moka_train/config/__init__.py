from .load import ConfigError, dump_config, load_config, validate
from .schema import RunConfig

__all__ = ["ConfigError", "RunConfig", "dump_config", "load_config", "validate"]
