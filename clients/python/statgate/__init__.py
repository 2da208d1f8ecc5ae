"""Python client of the statgate HTTP API (standard library only).

    import statgate
    sg = statgate.connect("http://127.0.0.1:8080", token)
    res = sg.query("SELECT sex, count(DISTINCT pid) AS persons FROM population GROUP BY 1",
                   project="diabetes-2026", epsilon=0.5)

Results come back as a pandas DataFrame when pandas is installed, else as a
list of dicts (statgate.Rows), one per released row, flat like the API's CSV:
each key column, then per measure m the columns m (None when suppressed),
m_stddev, m_ci_low, m_ci_high (the 95 % interval) and m_suppressed (why the
cell was suppressed: "min_cell_count" or "secondary", else None), and
"margin" when the result has total rows. The result's meta (ε spent, split,
bounds, notes, warnings) is `rows.meta`, or `df.attrs["meta"]`.

Every refusal or error of the API raises statgate.StatgateError, carrying
the problem's HTTP status, stable code and hint.
"""

from .client import Client, Rows, StatgateError, connect, flatten

__all__ = ["Client", "Rows", "StatgateError", "connect", "flatten"]
__version__ = "0.1.0"
