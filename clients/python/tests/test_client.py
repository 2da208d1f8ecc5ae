"""The Python client against a real statgate server (clients/run-tests.sh
starts `statgate demo` on loopback and sets STATGATE_URL, RESEARCHER and
ANALYST). Without them every test is skipped."""

import os
import sys
import unittest
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import statgate  # noqa: E402

URL = os.environ.get("STATGATE_URL")
RESEARCHER = os.environ.get("RESEARCHER")
ANALYST = os.environ.get("ANALYST")
SEX = "SELECT sex, count(DISTINCT pid) AS persons FROM population GROUP BY 1"


def have(module):
    try:
        __import__(module)
    except ImportError:
        return False
    return True


@unittest.skipUnless(URL and RESEARCHER and ANALYST, "no statgate server (run clients/run-tests.sh)")
class ClientTest(unittest.TestCase):
    def setUp(self):
        self.sg = statgate.connect(URL, RESEARCHER, as_frame=False)

    def spent(self, project, dataset):
        for b in self.sg.budget(project):
            if b["dataset"] == dataset:
                return b["epsilon"]["spent"]
        self.fail(f"no budget for {project}/{dataset}")

    def test_datasets(self):
        names = {d["name"] for d in self.sg.datasets()}
        self.assertTrue({"population", "npr", "lmr", "cancer", "death_causes"} <= names, names)
        hits = [d["name"] for d in self.sg.datasets(q="diabetes")]
        self.assertIn("npr", hits)
        self.assertEqual(self.sg.dataset("population")["name"], "population")

    def test_query_rows_with_intervals(self):
        before = self.spent("diabetes-2026", "population")
        rows = self.sg.query(SEX, project="diabetes-2026", epsilon=0.5)
        self.assertIsInstance(rows, statgate.Rows)
        self.assertEqual(sorted(r["sex"] for r in rows), ["F", "M"])
        self.assertEqual(rows.columns, ["sex", "persons", "persons_stddev", "persons_ci_low", "persons_ci_high", "persons_suppressed"])
        total = 0
        for r in rows:
            self.assertIsNone(r["persons_suppressed"])
            self.assertGreater(r["persons_stddev"], 0)
            self.assertLessEqual(r["persons_ci_low"], r["persons"])
            self.assertLessEqual(r["persons"], r["persons_ci_high"])
            self.assertEqual(r["persons"] % 5, 0)
            total += r["persons"]
        # 20,000 demo persons; the noise at ε 0.5 is a few persons.
        self.assertLess(abs(total - 20000), 200)
        self.assertEqual(rows.meta["epsilon"], 0.5)
        self.assertEqual(rows.meta["project"], "diabetes-2026")
        self.assertAlmostEqual(self.spent("diabetes-2026", "population"), before + 0.5)

    def test_template_and_cohort(self):
        an = statgate.connect(URL, ANALYST, as_frame=False)
        self.assertIn("prescriptions_by_atc_year", [t["name"] for t in an.templates()])
        # A10BA%, not the README example's A10B%: an identical question
        # asked again is a free repeat (meta.cached, ε 0).
        rows = an.template("prescriptions_by_atc_year", project="diabetes-2026", params={"atc_prefix": "A10BA%"})
        self.assertEqual([r["year"] for r in rows], list(range(2010, 2025)))
        self.assertEqual(rows.meta["epsilon"], 0.5)
        coh = self.sg.cohort("diabetes-2026",
                             include=[{"dataset": "npr", "where": "icd10 LIKE 'E11%'"}, {"dataset": "lmr", "where": "atc LIKE 'A10B%'"}],
                             exclude=[{"dataset": "death_causes"}], breakdown=["sex", "age_band"])
        self.assertEqual({r["sex"] for r in coh}, {"F", "M"})
        suppressed = [r for r in coh if r["persons_suppressed"]]
        released = [r for r in coh if not r["persons_suppressed"]]
        self.assertTrue(released, "no cohort cell released")
        for r in suppressed:
            # suppression is a missing value and a reason, never a number
            self.assertIsNone(r["persons"])
            self.assertIsNone(r["persons_ci_low"])
            self.assertIn(r["persons_suppressed"], ("min_cell_count", "secondary"))
        for r in released:
            self.assertGreaterEqual(r["persons"], 5)

    def test_refusal_raises_with_code_and_hint(self):
        before = self.spent("diabetes-2026", "npr")
        with self.assertRaises(statgate.StatgateError) as cm:
            self.sg.query("SELECT * FROM npr", project="diabetes-2026")
        e = cm.exception
        self.assertEqual((e.status, e.code), (422, "select_star"))
        self.assertTrue(e.hint, "a refusal carries a hint")
        self.assertIn("select_star", str(e))
        self.assertEqual(self.spent("diabetes-2026", "npr"), before, "a refusal debited the budget")
        with self.assertRaises(statgate.StatgateError) as cm:
            statgate.connect(URL, "sg_not-a-token").budget("diabetes-2026")
        self.assertEqual(cm.exception.status, 401)
        with self.assertRaises(statgate.StatgateError) as cm:
            statgate.connect("http://127.0.0.1:9", RESEARCHER).datasets()
        self.assertEqual(cm.exception.code, "unreachable")

    def test_budget_exhaustion(self):
        # cancer-survival has ε 6 per dataset; this test alone spends the
        # cancer dataset's (the R tests spend death_causes'). How much each
        # query at ε 2 costs depends on the accountant, so ask until the
        # budget refuses.
        # Every question is new: an identical one asked again is a free
        # repeat and would never exhaust anything.
        for i in range(100):
            sql = f"SELECT stage, count(DISTINCT pid) AS persons FROM cancer WHERE year(diagnosis_date) >= {1900 + i} GROUP BY 1"
            before = self.spent("cancer-survival", "cancer")
            try:
                self.sg.query(sql, project="cancer-survival", epsilon=2)
            except statgate.StatgateError as e:
                self.assertEqual((e.status, e.code), (409, "budget_exhausted"), str(e))
                self.assertTrue(e.hint)
                break
            self.assertGreater(self.spent("cancer-survival", "cancer"), before, "an answered query debited nothing")
        else:
            self.fail("100 queries at ε 2 did not exhaust a budget of ε 6")
        self.assertEqual(self.spent("cancer-survival", "cancer"), before, "the refused query debited")

    def test_warning_is_raised_as_python_warning(self):
        res = {"columns": [{"name": "n", "role": "measure"}], "rows": [], "meta": {"warnings": ["n is mostly noise"]}}
        with warnings.catch_warnings(record=True) as got:
            warnings.simplefilter("always")
            statgate.Client._warn(res["meta"])
        self.assertEqual(len(got), 1)
        self.assertIn("mostly noise", str(got[0].message))

    @unittest.skipUnless(have("pandas"), "pandas not installed")
    def test_pandas_frame(self):
        df = statgate.connect(URL, RESEARCHER).query(SEX, project="diabetes-2026")
        self.assertEqual(sorted(df["sex"]), ["F", "M"])
        self.assertIn("persons_ci_high", df.columns)
        self.assertEqual(df.attrs["meta"]["project"], "diabetes-2026")

    @unittest.skipUnless(have("pandas") and have("pyarrow"), "pandas or pyarrow not installed")
    def test_arrow(self):
        df = statgate.connect(URL, RESEARCHER).query(SEX, project="diabetes-2026", arrow=True)
        self.assertEqual(sorted(df["sex"]), ["F", "M"])
        self.assertIn("persons_suppressed", df.columns)


class FlattenTest(unittest.TestCase):
    def test_flatten_suppression_and_margins(self):
        res = {
            "columns": [{"name": "sex", "role": "key"}, {"name": "persons", "role": "measure"}],
            "rows": [
                {"cells": [{"value": "F"}, {"value": 120, "stddev": 2.8, "ci95": [115, 125]}]},
                {"cells": [{"value": "M"}, {"value": None, "suppressed": True, "reason": "min_cell_count"}]},
                {"cells": [{"value": None}, {"value": 125, "stddev": 2.8, "ci95": [120, 130]}], "margin": True},
            ],
        }
        rows, names = statgate.flatten(res)
        self.assertEqual(names[-1], "margin")
        self.assertEqual(rows[0]["persons_ci_low"], 115)
        self.assertEqual((rows[1]["persons"], rows[1]["persons_suppressed"]), (None, "min_cell_count"))
        self.assertTrue(rows[2]["margin"])
        self.assertEqual(statgate.flatten({"columns": [], "rows": []}), ([], []))


if __name__ == "__main__":
    unittest.main()
