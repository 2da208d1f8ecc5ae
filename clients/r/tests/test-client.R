# The R client against a real statgate server: clients/run-tests.sh starts
# `statgate demo` on loopback, installs this package and sets STATGATE_URL,
# RESEARCHER and ANALYST. Without them the tests are skipped.
library(statgate)

url <- Sys.getenv("STATGATE_URL")
researcher <- Sys.getenv("RESEARCHER")
analyst <- Sys.getenv("ANALYST")
if (!nzchar(url) || !nzchar(researcher) || !nzchar(analyst)) {
  cat("SKIP: no statgate server (run clients/run-tests.sh)\n")
  quit(status = 0)
}

failures <- 0
check <- function(name, expr) {
  ok <- tryCatch({ force(expr); TRUE }, error = function(e) {
    cat("FAIL ", name, ": ", conditionMessage(e), "\n", sep = "")
    FALSE
  })
  if (ok) cat("ok   ", name, "\n", sep = "")
  if (!ok) failures <<- failures + 1
}
expect <- function(cond, what) if (!isTRUE(cond)) stop(what, call. = FALSE)
spent <- function(project, dataset) {
  b <- sg_budget(project)
  b$epsilon_spent[b$dataset == dataset]
}
sex_sql <- "SELECT sex, count(DISTINCT pid) AS persons FROM population GROUP BY 1"

sg_connect(url, researcher)

check("sg_datasets", {
  ds <- sg_datasets()
  expect(all(c("population", "npr", "lmr", "cancer", "death_causes") %in% ds$name), "datasets missing")
  expect("npr" %in% sg_datasets(q = "diabetes")$name, "q=diabetes does not find npr")
})

check("sg_query: a data frame with intervals as columns", {
  before <- spent("diabetes-2026", "population")
  # epsilon 0.4, not the Python tests' 0.5: an identical question asked
  # again is a free repeat (meta cached, epsilon 0).
  df <- sg_query(sex_sql, project = "diabetes-2026", epsilon = 0.4)
  expect(is.data.frame(df), "not a data frame")
  expect(identical(names(df), c("sex", "persons", "persons_stddev", "persons_ci_low", "persons_ci_high", "persons_suppressed")),
         paste("columns:", paste(names(df), collapse = ",")))
  expect(identical(sort(df$sex), c("F", "M")), "sex groups")
  expect(all(df$persons_ci_low <= df$persons & df$persons <= df$persons_ci_high), "value outside its interval")
  expect(all(df$persons %% 5 == 0) && all(df$persons_stddev > 0), "rounding or stddev")
  expect(abs(sum(df$persons) - 20000) < 200, paste("total", sum(df$persons)))
  expect(all(is.na(df$persons_suppressed)), "suppressed")
  expect(sg_meta(df)$epsilon == 0.4, "meta epsilon")
  expect(abs(spent("diabetes-2026", "population") - before - 0.4) < 1e-9, "budget not debited 0.4")
})

check("sg_template and sg_templates", {
  a <- sg_connect(url, analyst)
  expect("prescriptions_by_atc_year" %in% sg_templates(con = a)$name, "template not listed")
  df <- sg_template("prescriptions_by_atc_year", project = "diabetes-2026", params = list(atc_prefix = "A10B%"), con = a)
  expect(identical(as.integer(df$year), 2010:2024), "years")
  sg_connect(url, researcher)
})

check("sg_cohort: suppression is NA plus a reason", {
  df <- sg_cohort("diabetes-2026",
                  include = list(list(dataset = "npr", where = "icd10 LIKE 'E11%'"),
                                 list(dataset = "lmr", where = "atc LIKE 'A10B%'")),
                  exclude = list(list(dataset = "death_causes")),
                  breakdown = c("sex", "age_band"))
  expect(setequal(unique(df$sex), c("F", "M")), "sex")
  sup <- !is.na(df$persons_suppressed)
  expect(any(!sup), "nothing released")
  expect(all(is.na(df$persons[sup])) && all(is.na(df$persons_ci_low[sup])), "a suppressed cell has a value")
  expect(all(df$persons_suppressed[sup] %in% c("min_cell_count", "secondary")), "reason")
  expect(all(df$persons[!sup] >= 5), "released under the minimum cell count")
})

check("a refusal is a condition with code and hint, and debits nothing", {
  before <- spent("diabetes-2026", "npr")
  e <- tryCatch(sg_query("SELECT * FROM npr", project = "diabetes-2026"), statgate_error = function(e) e)
  expect(inherits(e, "statgate_error_select_star"), paste("class:", paste(class(e), collapse = ",")))
  expect(e$status == 422 && e$code == "select_star" && nzchar(e$hint), "status, code or hint")
  expect(grepl("select_star", conditionMessage(e)), "message")
  expect(spent("diabetes-2026", "npr") == before, "a refusal debited")
  e <- tryCatch(sg_budget("diabetes-2026", con = sg_connect(url, "sg_not-a-token")), statgate_error = function(e) e)
  expect(inherits(e, "statgate_error") && e$status == 401, "bad token")
  sg_connect(url, researcher)
})

check("budget exhaustion is a statgate_error_budget_exhausted (409)", {
  # cancer-survival has epsilon 6 per dataset; the R tests spend death_causes'.
  # What a query at epsilon 2 costs depends on the accountant: ask until refused.
  # Every question is new: an identical one asked again is a free repeat.
  e <- NULL
  for (i in 1:100) {
    sql <- sprintf("SELECT sex, count(DISTINCT pid) AS persons FROM death_causes JOIN population USING (pid) WHERE year(death_causes.death_date) >= %d GROUP BY 1", 1900 + i)
    before <- spent("cancer-survival", "death_causes")
    e <- tryCatch({ sg_query(sql, project = "cancer-survival", epsilon = 2); NULL },
                  statgate_error = function(e) e)
    if (!is.null(e)) break
    expect(spent("cancer-survival", "death_causes") > before, "an answered query debited nothing")
  }
  expect(inherits(e, "statgate_error_budget_exhausted") && e$status == 409, paste(class(e), collapse = ","))
  expect(spent("cancer-survival", "death_causes") == before, "the refused query debited")
})

check("flatten: an empty result, margins, suppression", {
  df <- statgate:::flatten(list(columns = list(list(name = "sex", role = "key", type = "string"),
                                               list(name = "n", role = "measure", type = "number")),
                                rows = list(), meta = list(warnings = list("n is mostly noise"))))
  expect(nrow(df) == 0 && "n_ci_high" %in% names(df), "empty result")
  expect(identical(sg_meta(df)$warnings[[1]], "n is mostly noise"), "meta")
  df <- statgate:::flatten(list(columns = list(list(name = "sex", role = "key", type = "string"),
                                               list(name = "n", role = "measure", type = "number")),
                                rows = list(list(cells = list(list(value = "F"), list(value = 10, stddev = 1.4, ci95 = list(5, 15)))),
                                            list(cells = list(list(value = "M"), list(value = NULL, suppressed = TRUE, reason = "secondary"))),
                                            list(cells = list(list(value = NULL), list(value = 15, stddev = 1.4, ci95 = list(10, 20))), margin = TRUE)),
                                meta = list()))
  expect(identical(df$margin, c(FALSE, FALSE, TRUE)) && is.na(df$sex[3]), "margin")
  expect(is.na(df$n[2]) && df$n_suppressed[2] == "secondary" && is.na(df$n_suppressed[1]), "suppression")
})

if (failures > 0) {
  cat(failures, "R client test(s) failed\n")
  quit(status = 1)
}
cat("R client: all tests passed\n")
