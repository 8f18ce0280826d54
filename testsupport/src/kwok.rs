//! KWOK helpers: fake nodes and pods whose exec/logs/attach/port-forward work.
