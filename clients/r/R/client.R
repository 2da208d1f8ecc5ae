# statgate: the R client of the statgate HTTP API.
#
# sg_connect() opens a connection (and makes it the default); sg_datasets(),
# sg_templates(), sg_query(), sg_template(), sg_cohort() and sg_budget() ask
# the server. Results are data frames, flat like the API's CSV: each key
# column, then per measure m the columns m (NA when suppressed), m_stddev,
# m_ci_low, m_ci_high (the 95 % interval) and m_suppressed (why the cell was
# suppressed, "min_cell_count" or "secondary", else NA), and "margin" when
# the result has total rows. sg_meta(df) is the result's meta (epsilon spent,
# split, bounds, notes, warnings). A refusal or an error of the API is
# signalled as a condition of class c("statgate_error_<code>",
# "statgate_error", "error", "condition") with fields status, code, title,
# detail, hint and request_id.

.sg <- new.env(parent = emptyenv())

media_json <- "application/json"
media_arrow <- "application/vnd.apache.arrow.stream"

#' Connect to a statgate server; the connection becomes the default of the
#' other sg_* functions.
sg_connect <- function(url = Sys.getenv("STATGATE_URL", "http://127.0.0.1:8080"),
                       token = Sys.getenv("STATGATE_TOKEN"), timeout = 120) {
  if (!nzchar(url)) stop("sg_connect: a server URL is required, e.g. http://127.0.0.1:8080", call. = FALSE)
  if (!nzchar(token)) stop("sg_connect: a token is required (statgate token create, or the demo's printout)", call. = FALSE)
  con <- structure(list(url = sub("/+$", "", url), token = token, timeout = timeout),
                   class = "statgate_connection")
  .sg$default <- con
  invisible(con)
}

print.statgate_connection <- function(x, ...) {
  cat("<statgate connection to ", x$url, ">\n", sep = "")
  invisible(x)
}

default_con <- function() {
  if (is.null(.sg$default)) stop("statgate: call sg_connect(url, token) first", call. = FALSE)
  .sg$default
}

# statgate_error builds the condition of a problem+json answer.
statgate_error <- function(status, code, title = "", detail = "", hint = "", request_id = "") {
  msg <- sprintf("statgate %s %s: %s", status, code, if (nzchar(detail)) detail else title)
  if (nzchar(hint)) msg <- paste0(msg, " (hint: ", hint, ")")
  structure(class = c(paste0("statgate_error_", code), "statgate_error", "error", "condition"),
            list(message = msg, call = NULL, status = status, code = code, title = title,
                 detail = detail, hint = hint, request_id = request_id))
}

conditionMessage.statgate_error <- function(c) c$message

str_or <- function(x, def = "") if (is.null(x)) def else as.character(x)

# request sends one request and returns the response's raw body, or signals
# a statgate_error.
request <- function(con, method, path, body = NULL, accept = media_json, query = NULL) {
  url <- paste0(con$url, path)
  hdr <- httr::add_headers(Authorization = paste("Bearer", con$token), Accept = accept)
  resp <- tryCatch({
    if (method == "GET") {
      httr::GET(url, hdr, query = query, httr::timeout(con$timeout))
    } else {
      json <- jsonlite::toJSON(body, auto_unbox = TRUE, null = "null", digits = NA)
      httr::POST(url, hdr, httr::content_type_json(), body = as.character(json), httr::timeout(con$timeout))
    }
  }, error = function(e) {
    stop(statgate_error(0, "unreachable", detail = paste0(con$url, ": ", conditionMessage(e)),
                        hint = "is `statgate serve` (or `statgate demo`) running at this address?"))
  })
  raw <- httr::content(resp, as = "raw")
  status <- httr::status_code(resp)
  if (status >= 400) {
    p <- tryCatch(jsonlite::fromJSON(rawToChar(raw), simplifyVector = FALSE), error = function(e) NULL)
    if (is.null(p)) stop(statgate_error(status, "http_error", detail = substr(rawToChar(raw), 1, 200)))
    stop(statgate_error(status, str_or(p$code, "http_error"), str_or(p$title), str_or(p$detail),
                        str_or(p$hint), str_or(p$request_id)))
  }
  raw
}

get_json <- function(con, path, query = NULL) {
  jsonlite::fromJSON(rawToChar(request(con, "GET", path, query = query)), simplifyVector = FALSE)
}

# value turns a JSON value (NULL for null) into a length-one vector.
value <- function(x, na = NA) if (is.null(x)) na else x

# flatten turns a result body (parsed with simplifyVector = FALSE) into the
# package's flat data frame, its meta attached as attribute "meta".
flatten <- function(res) {
  cols <- res$columns
  rows <- res$rows
  has_margin <- any(vapply(rows, function(r) isTRUE(r$margin), logical(1)))
  out <- list()
  for (i in seq_along(cols)) {
    c <- cols[[i]]
    cells <- lapply(rows, function(r) r$cells[[i]])
    if (c$role == "key") {
      v <- lapply(cells, function(x) value(x$value))
      out[[c$name]] <- if (length(v)) unlist(v) else switch(c$type, integer = integer(), number = numeric(), boolean = logical(), character())
      next
    }
    m <- c$name
    sup <- vapply(cells, function(x) isTRUE(x$suppressed), logical(1))
    num <- function(f) vapply(cells, function(x) as.numeric(value(f(x))), numeric(1))
    out[[m]] <- ifelse(sup, NA_real_, num(function(x) x$value))
    out[[paste0(m, "_stddev")]] <- num(function(x) x$stddev)
    out[[paste0(m, "_ci_low")]] <- ifelse(sup, NA_real_, num(function(x) x$ci95[[1]]))
    out[[paste0(m, "_ci_high")]] <- ifelse(sup, NA_real_, num(function(x) x$ci95[[2]]))
    out[[paste0(m, "_suppressed")]] <- ifelse(sup, vapply(cells, function(x) str_or(x$reason, "suppressed"), character(1)), NA_character_)
  }
  if (has_margin) out[["margin"]] <- vapply(rows, function(r) isTRUE(r$margin), logical(1))
  df <- as.data.frame(out, stringsAsFactors = FALSE, check.names = FALSE)
  attr(df, "meta") <- res$meta
  df
}

# released posts a request for a result and returns its data frame.
released <- function(con, path, body, arrow = FALSE) {
  if (arrow) {
    if (!requireNamespace("arrow", quietly = TRUE)) stop("statgate: arrow = TRUE needs the arrow package", call. = FALSE)
    raw <- request(con, "POST", path, body, accept = media_arrow)
    tab <- arrow::read_ipc_stream(raw, as_data_frame = FALSE)
    df <- as.data.frame(tab)
    meta <- tab$metadata[["statgate.meta"]]
    attr(df, "meta") <- if (is.null(meta)) list() else jsonlite::fromJSON(meta, simplifyVector = FALSE)
  } else {
    res <- jsonlite::fromJSON(rawToChar(request(con, "POST", path, body)), simplifyVector = FALSE)
    df <- flatten(res)
  }
  for (w in attr(df, "meta")$warnings) warning("statgate: ", w, call. = FALSE)
  df
}

#' The result's meta: epsilon and delta spent, the split, bounds, notes and warnings.
sg_meta <- function(df) attr(df, "meta")

#' The data map: one row per dataset the token may see; q filters by words.
sg_datasets <- function(q = NULL, con = default_con()) {
  ds <- get_json(con, "/v1/datasets", query = if (!is.null(q)) list(q = q))$datasets
  data.frame(
    name = vapply(ds, function(d) d$name, character(1)),
    title = vapply(ds, function(d) str_or(d$title), character(1)),
    description = vapply(ds, function(d) str_or(d$description), character(1)),
    size = vapply(ds, function(d) str_or(d$size), character(1)),
    approx_rows = vapply(ds, function(d) as.numeric(value(d$approx_rows)), numeric(1)),
    one_row_per_person = vapply(ds, function(d) isTRUE(d$one_row_per_person), logical(1)),
    columns = vapply(ds, function(d) paste(vapply(d$columns, function(c) c$name, character(1)), collapse = ", "), character(1)),
    stringsAsFactors = FALSE)
}

#' The approved templates the token may run: name, title, epsilon, parameters.
sg_templates <- function(con = default_con()) {
  ts <- get_json(con, "/v1/templates")$templates
  data.frame(
    name = vapply(ts, function(t) t$name, character(1)),
    title = vapply(ts, function(t) str_or(t$title), character(1)),
    epsilon = vapply(ts, function(t) as.numeric(value(t$epsilon)), numeric(1)),
    params = vapply(ts, function(t) paste(vapply(t$params, function(p) p$name, character(1)), collapse = ", "), character(1)),
    stringsAsFactors = FALSE)
}

#' One protected ad-hoc SQL query; debits the project's budget.
sg_query <- function(sql, project, epsilon = NULL, totals = FALSE, bounds = NULL, arrow = FALSE, con = default_con()) {
  body <- list(project = project, sql = sql)
  if (!is.null(epsilon)) body$epsilon <- epsilon
  if (isTRUE(totals)) body$totals <- TRUE
  if (!is.null(bounds)) body$bounds <- bounds
  released(con, "/v1/query", body, arrow)
}

#' Run an approved template with its parameters (a named list); its epsilon is fixed.
sg_template <- function(name, project, params = list(), bounds = NULL, arrow = FALSE, con = default_con()) {
  body <- list(project = project, params = if (length(params)) params else structure(list(), names = character()))
  if (!is.null(bounds)) body$bounds <- bounds
  released(con, paste0("/v1/templates/", utils::URLencode(name, reserved = TRUE), "/run"), body, arrow)
}

#' Estimate a cohort's size across registries. include and exclude are
#' lists of criteria, each list(dataset = , where = , from = , to = ).
sg_cohort <- function(project, include, exclude = NULL, breakdown = NULL, epsilon = NULL, bounds = NULL,
                      arrow = FALSE, con = default_con()) {
  body <- list(project = project, include = include)
  if (length(exclude)) body$exclude <- exclude
  if (length(breakdown)) body$breakdown <- as.list(breakdown)
  if (!is.null(epsilon)) body$epsilon <- epsilon
  if (!is.null(bounds)) body$bounds <- bounds
  released(con, "/v1/cohorts/estimate", body, arrow)
}

#' The project's budget: one row per dataset with epsilon and delta total, spent, remaining.
sg_budget <- function(project, con = default_con()) {
  ds <- get_json(con, paste0("/v1/projects/", utils::URLencode(project, reserved = TRUE), "/budget"))$datasets
  num <- function(f) vapply(ds, function(d) as.numeric(value(f(d))), numeric(1))
  data.frame(
    dataset = vapply(ds, function(d) d$dataset, character(1)),
    epsilon_total = num(function(d) d$epsilon$total),
    epsilon_spent = num(function(d) d$epsilon$spent),
    epsilon_remaining = num(function(d) d$epsilon$remaining),
    delta_total = num(function(d) d$delta$total),
    delta_spent = num(function(d) d$delta$spent),
    delta_remaining = num(function(d) d$delta$remaining),
    stringsAsFactors = FALSE)
}
