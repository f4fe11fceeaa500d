//! `mlctl predict NAME --input FILE`: V2 JSON (one request), JSONL (one per line) or
//! CSV (rows of features → one `[rows, columns]` tensor for a single-input model).

use std::path::Path;

use serde::Serialize;
use serde_json::{Value, json};

use crate::cli::{GlobalArgs, PredictArgs};
use crate::client::InferReply;
use crate::error::{Error, Result};
use crate::output::{Grid, Report};
use crate::wire::v2::{self, DataType, TensorMetadata};

#[derive(Debug, Serialize)]
pub struct PredictedBatch {
    /// Where the request came from: `file:line`.
    pub source: String,
    pub request_id: Option<String>,
    pub model_name: String,
    pub model_version: String,
    pub variant: Option<String>,
    pub outputs: Vec<Value>,
}

#[derive(Debug, Serialize)]
pub struct PredictReport {
    pub responses: Vec<PredictedBatch>,
}

/// Cells of row `i` of an output tensor whose first axis is the batch.
fn row_cells(t: &Value, i: usize) -> String {
    let shape: Vec<usize> = t["shape"]
        .as_array()
        .map(|a| a.iter().filter_map(|d| d.as_u64()).map(|d| d as usize).collect())
        .unwrap_or_default();
    let data = t["data"].as_array().cloned().unwrap_or_default();
    let per_row: usize = shape.iter().skip(1).product();
    let fmt = |v: &Value| match v {
        Value::Number(n) => n.as_f64().map(crate::output::fmt_num).unwrap_or_else(|| n.to_string()),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let cells: Vec<String> = data.iter().skip(i * per_row).take(per_row.max(1)).map(fmt).collect();
    cells.join(", ")
}

impl Report for PredictReport {
    fn grids(&self) -> Vec<Grid> {
        let mut grids = Vec::new();
        for b in &self.responses {
            let names: Vec<String> = b
                .outputs
                .iter()
                .map(|o| o["name"].as_str().unwrap_or("?").to_string())
                .collect();
            let rows_n = b
                .outputs
                .iter()
                .filter_map(|o| o["shape"].get(0).and_then(Value::as_u64))
                .max()
                .unwrap_or(1) as usize;
            let mut headers = vec!["row".to_string()];
            headers.extend(names);
            let rows = (0..rows_n)
                .map(|i| {
                    let mut r = vec![i.to_string()];
                    r.extend(b.outputs.iter().map(|o| row_cells(o, i)));
                    r
                })
                .collect();
            let title = format!(
                "{} → {} version {}{} (request {})",
                b.source,
                b.model_name,
                b.model_version,
                b.variant.as_ref().map(|v| format!(", variant {v}")).unwrap_or_default(),
                b.request_id.as_deref().unwrap_or("-")
            );
            grids.push(Grid {
                title: Some(title),
                headers,
                rows,
            });
        }
        grids
    }
}

#[derive(Debug)]
/// One request body per source location.
pub struct PreparedRequest {
    pub source: String,
    pub body: Vec<u8>,
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::io(path, e))
}

/// A body check: `at` (file[:line]) names where the body came from in the error.
pub type BodyCheck = fn(at: &str, body: &[u8]) -> Result<()>;

/// The body parses as a V2 inference request.
pub fn check_v2(at: &str, body: &[u8]) -> Result<()> {
    v2::parse_request(body, None).map_err(|e| Error::input(at, e.0))?;
    Ok(())
}

/// JSON file: one request, checked locally so errors name the file.
pub fn json_with(path: &Path, check: BodyCheck) -> Result<Vec<PreparedRequest>> {
    let text = read(path)?;
    let at = path.display().to_string();
    check(&at, text.trim().as_bytes())?;
    Ok(vec![PreparedRequest {
        source: at,
        body: text.trim().as_bytes().to_vec(),
    }])
}

/// JSONL: one request per non-empty line, each checked (errors name file:line).
pub fn jsonl_with(path: &Path, check: BodyCheck) -> Result<Vec<PreparedRequest>> {
    let text = read(path)?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let at = format!("{}:{}", path.display(), i + 1);
        check(&at, line.as_bytes())?;
        out.push(PreparedRequest {
            source: at,
            body: line.as_bytes().to_vec(),
        });
    }
    if out.is_empty() {
        return Err(Error::input(path.display().to_string(), "no requests (file is empty)"));
    }
    Ok(out)
}

/// Numeric feature rows read from a CSV for a single-input model.
#[derive(Debug)]
pub struct CsvRows {
    /// The model input they feed, and its datatype.
    pub name: String,
    pub datatype: DataType,
    pub columns: usize,
    /// Row-major values.
    pub values: Vec<f64>,
}

impl CsvRows {
    pub fn len(&self) -> usize {
        self.values.len() / self.columns.max(1)
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// A V2 request with rows `range` as one `[rows, columns]` tensor.
    pub fn request(&self, range: std::ops::Range<usize>) -> Vec<u8> {
        let rows = range.len();
        let slice = &self.values[range.start * self.columns..range.end * self.columns];
        let data: Value = match self.datatype {
            DataType::F32 | DataType::F64 | DataType::F16 => json!(slice),
            _ => json!(slice.iter().map(|v| *v as i64).collect::<Vec<_>>()),
        };
        json!({"inputs": [{"name": self.name, "shape": [rows, self.columns], "datatype": self.datatype.name(), "data": data}]})
            .to_string()
            .into_bytes()
    }
}

/// CSV rows for the model's only input (`input` is its metadata entry). A first row that is
/// not all numbers is a header. Errors name file:line:column.
pub fn read_csv_rows(path: &Path, input: &TensorMetadata) -> Result<CsvRows> {
    let name = input.name.clone();
    let dt = DataType::parse(&input.datatype).unwrap_or(DataType::F32);
    if !matches!(
        dt,
        DataType::F32 | DataType::F64 | DataType::F16 | DataType::I64 | DataType::I32 | DataType::I16 | DataType::I8
    ) {
        return Err(Error::Usage(format!(
            "model input '{name}' is {}; CSV rows can feed numeric inputs only (use a JSON request)",
            dt.name()
        )));
    }
    let expected_cols = input.shape.get(1).copied().filter(|&d| d > 0);
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_path(path)
        .map_err(|e| Error::input(path.display().to_string(), format!("cannot read CSV: {e}")))?;
    let mut values: Vec<f64> = Vec::new();
    let mut cols: Option<usize> = None;
    let mut rows = 0usize;
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 1;
        let rec = rec.map_err(|e| Error::input(format!("{}:{line}", path.display()), format!("malformed CSV: {e}")))?;
        if rec.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let parsed: Vec<std::result::Result<f64, _>> = rec.iter().map(|c| c.trim().parse::<f64>()).collect();
        if rows == 0 && cols.is_none() && parsed.iter().any(|p| p.is_err()) {
            cols = Some(rec.len());
            continue; // header
        }
        let n = *cols.get_or_insert(rec.len());
        if rec.len() != n {
            return Err(Error::input(
                format!("{}:{line}", path.display()),
                format!("expected {n} columns, got {}", rec.len()),
            ));
        }
        for (c, p) in parsed.into_iter().enumerate() {
            let v = p.map_err(|_| {
                Error::input(
                    format!("{}:{line}:{}", path.display(), c + 1),
                    format!("expected a number, got {:?}", &rec[c]),
                )
            })?;
            values.push(v);
        }
        rows += 1;
    }
    let ncols = cols.unwrap_or(0);
    if rows == 0 {
        return Err(Error::input(path.display().to_string(), "no data rows"));
    }
    if let Some(want) = expected_cols
        && want as usize != ncols
    {
        return Err(Error::input(
            path.display().to_string(),
            format!("model input '{name}' takes {want} columns, file has {ncols}"),
        ));
    }
    Ok(CsvRows {
        name,
        datatype: dt,
        columns: ncols,
        values,
    })
}

/// CSV rows → one `[rows, columns]` tensor named and typed as the model's only input.
pub fn from_csv(path: &Path, input: &TensorMetadata) -> Result<Vec<PreparedRequest>> {
    let rows = read_csv_rows(path, input)?;
    Ok(vec![PreparedRequest {
        source: path.display().to_string(),
        body: rows.request(0..rows.len()),
    }])
}

pub fn batch_of(source: String, reply: InferReply) -> PredictedBatch {
    PredictedBatch {
        source,
        request_id: reply.request_id,
        model_name: reply.response.model_name,
        model_version: reply.response.model_version,
        variant: reply.variant,
        outputs: reply.response.outputs.iter().map(v2::output_json).collect(),
    }
}

pub async fn run(args: PredictArgs, g: &GlobalArgs) -> Result<PredictReport> {
    let client = super::client(g)?;
    let ext = args
        .input
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let requests = match ext.as_str() {
        "json" => json_with(&args.input, check_v2)?,
        "jsonl" | "ndjson" => jsonl_with(&args.input, check_v2)?,
        "csv" => {
            let meta = client.model_metadata(&args.name, args.version.as_deref()).await?;
            let inputs = meta.inputs;
            if inputs.len() != 1 {
                return Err(Error::Usage(format!(
                    "model '{}' has {} inputs; CSV rows feed single-input models (use a JSON request)",
                    args.name,
                    inputs.len()
                )));
            }
            from_csv(&args.input, &inputs[0])?
        }
        _ => {
            return Err(Error::input(
                args.input.display().to_string(),
                "unknown file type: expected .json (V2 request), .jsonl (one per line) or .csv (feature rows)",
            ));
        }
    };
    let mut responses = Vec::with_capacity(requests.len());
    for r in requests {
        let reply = client
            .infer(&args.name, args.version.as_deref(), args.key.as_deref(), r.body)
            .await?;
        responses.push(batch_of(r.source, reply));
    }
    Ok(PredictReport { responses })
}
