//! Every fixture model, run by mlctl's ONNX runtime, matches onnxruntime's outputs
//! (recorded by fixtures/make_models.py) to 1e-5 absolute.
#![cfg(feature = "onnx")]

use mlctl::serving::runtime::onnx::OnnxModel;
use mlctl::wire::v2::{DataType, Tensor, TensorData};
use serde_json::Value;

const FIXTURES: &[&str] = &["churn_lr", "churn_lr_bad", "churn_rf", "iris_gbt", "price_rf"];

fn tensor(v: &Value) -> Tensor {
    let shape: Vec<usize> = v["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect();
    let data = v["data"].as_array().unwrap();
    let data = match DataType::parse(v["datatype"].as_str().unwrap()).unwrap() {
        DataType::F32 => TensorData::F32(data.iter().map(|x| x.as_f64().unwrap() as f32).collect()),
        DataType::I64 => TensorData::I64(data.iter().map(|x| x.as_i64().unwrap()).collect()),
        other => panic!("fixture datatype {other:?}"),
    };
    Tensor {
        name: v["name"].as_str().unwrap().to_string(),
        shape,
        data,
    }
}

#[test]
fn every_fixture_matches_onnxruntime_to_1e_5() {
    for name in FIXTURES {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/models");
        let bytes = std::fs::read(dir.join(format!("{name}.onnx"))).unwrap();
        let samples: Value =
            serde_json::from_slice(&std::fs::read(dir.join(format!("{name}.samples.json"))).unwrap()).unwrap();
        let model = OnnxModel::load(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let input = tensor(&samples["input"]);
        let checked = model.check_inputs(vec![input]).unwrap();
        let outputs = model.run(checked).unwrap_or_else(|e| panic!("{name}: {e}"));
        let expected = samples["outputs"].as_object().unwrap();
        assert_eq!(outputs.len(), expected.len(), "{name}: output count");
        for out in &outputs {
            let want = tensor(&expected[&out.name]);
            let got_shape: Vec<usize> = out.shape.clone();
            let want_n: usize = want.shape.iter().product();
            assert_eq!(
                got_shape.iter().product::<usize>(),
                want_n,
                "{name}/{}: element count",
                out.name
            );
            assert_eq!(out.datatype(), want.datatype(), "{name}/{}: datatype", out.name);
            for i in 0..want_n {
                let (g, w) = (out.data.get_f64(i).unwrap(), want.data.get_f64(i).unwrap());
                assert!(
                    (g - w).abs() <= 1e-5,
                    "{name}/{}[{i}]: mlctl {g} vs onnxruntime {w}",
                    out.name
                );
            }
        }
    }
}

#[test]
fn non_onnx_bytes_are_refused_plainly() {
    let e = OnnxModel::load(b"this is not a model").err().unwrap().to_string();
    assert!(e.contains("not an ONNX model"), "{e}");
}

#[test]
fn unknown_operator_is_named_in_the_refusal() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/models/unsupported_op.onnx");
    let e = OnnxModel::load(&std::fs::read(path).unwrap())
        .err()
        .unwrap()
        .to_string();
    assert_eq!(e, "model: unsupported operator com.example.Frobnicate (node 'frob')");
}

/// The inline decision: never before a run has been measured, then only for a model whose
/// runs are measured cheap and for small inputs; answers are the same either way.
#[test]
fn cheap_models_run_inline_once_measured_and_small_inputs_only() {
    use mlctl::serving::runtime::onnx::INLINE_MAX_ELEMENTS;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/models");
    let model = OnnxModel::load(&std::fs::read(dir.join("churn_lr.onnx")).unwrap()).unwrap();
    let row = |rows: usize| Tensor {
        name: "input".into(),
        shape: vec![rows, 4],
        data: TensorData::F32(vec![0.5; rows * 4]),
    };
    let second = std::time::Duration::from_secs(1);
    assert_eq!(model.typical_run(), None);
    assert!(!model.runs_inline(&[row(1)]), "unmeasured: the blocking pool");
    assert!(!model.cheap_under(&[row(1)], second), "unmeasured: never inline");
    let first = model.run(model.check_inputs(vec![row(1)]).unwrap()).unwrap();
    for _ in 0..16 {
        model.run(model.check_inputs(vec![row(1)]).unwrap()).unwrap();
    }
    // A logistic regression on one row takes microseconds (the release build's figure is
    // what INLINE_BELOW compares; a debug build is slower, hence the limit given here).
    let typical = model.typical_run().unwrap();
    assert!(typical > std::time::Duration::ZERO && typical < second, "{typical:?}");
    assert!(model.cheap_under(&[row(1)], second), "measured cheap: inline");
    assert!(
        !model.cheap_under(&[row(1)], typical / 100),
        "slower than the limit: the pool"
    );
    assert!(
        !model.cheap_under(&[row(INLINE_MAX_ELEMENTS / 4 + 1)], second),
        "a large batch: the blocking pool"
    );
    let again = model.run(model.check_inputs(vec![row(1)]).unwrap()).unwrap();
    assert_eq!(first, again);
}

/// Runs reuse pooled run states: batches of changing size (the batch symbol resolved anew
/// each run), from several threads at once, and after a run that failed, all give
/// onnxruntime's rows for the rows they were given.
#[test]
fn reused_run_states_answer_every_batch_size_and_survive_a_failed_run() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/models");
    for name in FIXTURES {
        let bytes = std::fs::read(dir.join(format!("{name}.onnx"))).unwrap();
        let samples: Value =
            serde_json::from_slice(&std::fs::read(dir.join(format!("{name}.samples.json"))).unwrap()).unwrap();
        let model = OnnxModel::load(&bytes).unwrap();
        assert!(model.pools_states(), "{name}: a stateless model reuses run states");
        let all = tensor(&samples["input"]);
        let (rows, cols) = (all.shape[0], all.shape[1]);
        let TensorData::F32(x) = &all.data else {
            panic!("{name}: FP32 input")
        };
        let expected: Vec<Tensor> = samples["outputs"].as_object().unwrap().values().map(tensor).collect();
        let batch = |from: usize, n: usize| Tensor {
            name: all.name.clone(),
            shape: vec![n, cols],
            data: TensorData::F32(x[from * cols..(from + n) * cols].to_vec()),
        };
        let check = |from: usize, n: usize| {
            let outputs = model.run(model.check_inputs(vec![batch(from, n)]).unwrap()).unwrap();
            for out in &outputs {
                let want = expected.iter().find(|t| t.name == out.name).unwrap();
                let per_row = want.shape.iter().skip(1).product::<usize>();
                assert_eq!(out.shape[0], n, "{name}/{}: rows", out.name);
                for i in 0..n * per_row {
                    let (g, w) = (
                        out.data.get_f64(i).unwrap(),
                        want.data.get_f64(from * per_row + i).unwrap(),
                    );
                    assert!(
                        (g - w).abs() <= 1e-5,
                        "{name}/{} rows {from}+{n} [{i}]: {g} vs {w}",
                        out.name
                    );
                }
            }
        };
        std::thread::scope(|s| {
            for t in 0..4 {
                let check = &check;
                s.spawn(move || {
                    for (i, n) in [1, rows, 3, 1, 7, rows - 2, 2].into_iter().enumerate() {
                        check((t + i) % (rows - n + 1), n);
                    }
                });
            }
        });
        // A run the model refuses (an INT64 tensor where it wants FP32) leaves later runs right.
        let wrong = Tensor {
            name: all.name.clone(),
            shape: vec![1, cols],
            data: TensorData::I64(vec![1; cols]),
        };
        assert!(model.run(vec![wrong]).is_err(), "{name}: a wrong datatype fails");
        check(rows - 1, 1);
        check(0, rows);
    }
}
