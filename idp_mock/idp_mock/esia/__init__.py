"""The mock Gosuslugi: ESIA's v2/ac + v3/te dialect, person data under /rs/prns, logout."""
