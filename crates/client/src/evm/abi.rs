//! Call data from a function signature and its arguments as text, as `cast calldata` takes
//! them: `transfer(address,uint256) 0xAb… 1000000` → selector ‖ ABI-encoded arguments
//! (alloy-json-abi parses the signature, alloy-dyn-abi coerces and encodes the values).

use alloy_dyn_abi::{DynSolType, DynSolValue, JsonAbiExt, Specifier};
use alloy_json_abi::Function;
use alloy_primitives::Bytes;

/// Why call data cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum AbiError {
    #[error("{0:?} is not a function signature like \"transfer(address,uint256)\": {1}")]
    Signature(String, String),
    #[error("{name} takes {expected} argument(s), {given} given")]
    Arity {
        name: String,
        expected: usize,
        given: usize,
    },
    #[error("argument {index} ({ty}) {value:?}: {why}")]
    Argument {
        index: usize,
        ty: String,
        value: String,
        why: String,
    },
}

/// The call data of `signature` applied to `args`.
pub fn call_data(signature: &str, args: &[String]) -> Result<Bytes, AbiError> {
    let bad_signature =
        |e: &dyn std::fmt::Display| AbiError::Signature(signature.to_owned(), e.to_string());
    let function = Function::parse(signature).map_err(|e| bad_signature(&e))?;
    if function.inputs.len() != args.len() {
        return Err(AbiError::Arity {
            name: function.name.clone(),
            expected: function.inputs.len(),
            given: args.len(),
        });
    }
    let mut values = Vec::with_capacity(args.len());
    for (index, (param, value)) in function.inputs.iter().zip(args).enumerate() {
        let argument = |why: String| AbiError::Argument {
            index: index + 1,
            ty: param.ty.clone(),
            value: value.clone(),
            why,
        };
        let ty: DynSolType = param.resolve().map_err(|e| argument(e.to_string()))?;
        let v: DynSolValue = ty.coerce_str(value).map_err(|e| argument(e.to_string()))?;
        values.push(v);
    }
    let data = function
        .abi_encode_input(&values)
        .map_err(|e| bad_signature(&e))?;
    Ok(data.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn an_erc20_transfer_is_its_selector_and_two_words() {
        let data = call_data(
            "transfer(address,uint256)",
            &args(&["0x1111111111111111111111111111111111111111", "1000"]),
        )
        .unwrap();
        assert_eq!(
            hex::encode(&data),
            concat!(
                "a9059cbb",
                "0000000000000000000000001111111111111111111111111111111111111111",
                "00000000000000000000000000000000000000000000000000000000000003e8"
            )
        );
        // Dynamic types and nested tuples encode as the ABI says (head, then tail).
        let data = call_data("f(string,(uint8,bool))", &args(&["hi", "(7, true)"])).unwrap();
        assert_eq!(data.len(), 4 + 32 * 5);
    }

    #[test]
    fn wrong_signatures_and_arguments_are_named() {
        let err = |sig: &str, a: &[&str]| call_data(sig, &args(a)).unwrap_err().to_string();
        assert!(err("transfer(", &[]).contains("not a function signature"));
        assert!(
            err("transfer(address,uint256)", &["0x11"]).contains("takes 2 argument(s), 1 given")
        );
        let e = err("transfer(address,uint256)", &["0x1234", "1"]);
        assert!(e.starts_with("argument 1 (address) \"0x1234\""), "{e}");
        let e = err(
            "approve(address,uint8)",
            &["0x1111111111111111111111111111111111111111", "256"],
        );
        assert!(e.starts_with("argument 2 (uint8)"), "{e}");
    }
}
