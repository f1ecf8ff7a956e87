;; The app contract the near-api-js test deploys (tests/near_api_js.rs assembles it with the
;; `wat` crate): small enough to read whole, and it makes a real cross-contract call.
;;
;; - `set_greeting` (change): stores its input (JSON as near-api-js sends it) under "greeting"
;;   and logs "greeting set";
;; - `get_greeting` (view): returns what `set_greeting` stored, or `null`;
;; - `request_sign` (change): calls `sign` on signer.devnet with its own input as the arguments,
;;   1 yoctoNEAR attached (the signer's minimum) and 150 TGas, then its own `on_signed` with
;;   40 TGas, and returns that promise: the transaction's result is what the callback returns;
;; - `on_signed` (callback): reads the one promise result; a success is stored under
;;   "signature" and returned, a failure (or no promise result: a direct call) panics;
;; - `last_signature` (view): what `on_signed` last stored, or `null`.
(module
  (import "env" "input" (func $input (param i64)))
  (import "env" "register_len" (func $register_len (param i64) (result i64)))
  (import "env" "read_register" (func $read_register (param i64 i64)))
  (import "env" "storage_write" (func $storage_write (param i64 i64 i64 i64 i64) (result i64)))
  (import "env" "storage_read" (func $storage_read (param i64 i64 i64) (result i64)))
  (import "env" "value_return" (func $value_return (param i64 i64)))
  (import "env" "log_utf8" (func $log_utf8 (param i64 i64)))
  (import "env" "panic_utf8" (func $panic_utf8 (param i64 i64)))
  (import "env" "current_account_id" (func $current_account_id (param i64)))
  (import "env" "promise_create"
    (func $promise_create (param i64 i64 i64 i64 i64 i64 i64 i64) (result i64)))
  (import "env" "promise_then"
    (func $promise_then (param i64 i64 i64 i64 i64 i64 i64 i64 i64) (result i64)))
  (import "env" "promise_return" (func $promise_return (param i64)))
  (import "env" "promise_results_count" (func $promise_results_count (result i64)))
  (import "env" "promise_result" (func $promise_result (param i64 i64) (result i64)))

  (memory 1)
  ;; Constants, each at a fixed address (lengths are spelled out where they are used).
  (data (i32.const 0) "greeting")         ;; 8 bytes
  (data (i32.const 16) "signature")       ;; 9
  (data (i32.const 32) "signer.devnet")   ;; 13
  (data (i32.const 48) "sign")            ;; 4
  (data (i32.const 56) "on_signed")       ;; 9
  (data (i32.const 80) "\01")             ;; u128 1 (little-endian; the rest of memory is 0)
  (data (i32.const 128) "greeting set")   ;; 12
  (data (i32.const 144) "the sign call failed") ;; 20
  (data (i32.const 176) "null")           ;; 4
  ;; Address 96..112 stays zero: the u128 0 attached to the callback.
  ;; The current account's id is read to 512, inputs and stored values to 1024.

  ;; Register 0's bytes copied to 1024; their length.
  (func $register_to_buffer (result i64)
    (call $read_register (i64.const 0) (i64.const 1024))
    (call $register_len (i64.const 0)))

  ;; Returns the value stored under the key at `ptr` (`len` bytes), or `null`.
  (func $return_stored (param $len i64) (param $ptr i64)
    (if (i64.eq (call $storage_read (local.get $len) (local.get $ptr) (i64.const 0)) (i64.const 0))
      (then (call $value_return (i64.const 4) (i64.const 176)))
      (else (call $value_return (call $register_to_buffer) (i64.const 1024)))))

  (func (export "set_greeting")
    (local $len i64)
    (call $input (i64.const 0))
    (local.set $len (call $register_to_buffer))
    (drop (call $storage_write
      (i64.const 8) (i64.const 0) (local.get $len) (i64.const 1024) (i64.const 1)))
    (call $log_utf8 (i64.const 12) (i64.const 128)))

  (func (export "get_greeting")
    (call $return_stored (i64.const 8) (i64.const 0)))

  (func (export "request_sign")
    (local $args_len i64)
    (local $me_len i64)
    (local $sign i64)
    (call $input (i64.const 0))
    (local.set $args_len (call $register_to_buffer))
    (call $current_account_id (i64.const 1))
    (call $read_register (i64.const 1) (i64.const 512))
    (local.set $me_len (call $register_len (i64.const 1)))
    (local.set $sign (call $promise_create
      (i64.const 13) (i64.const 32)
      (i64.const 4) (i64.const 48)
      (local.get $args_len) (i64.const 1024)
      (i64.const 80)
      (i64.const 150000000000000)))
    (call $promise_return (call $promise_then
      (local.get $sign)
      (local.get $me_len) (i64.const 512)
      (i64.const 9) (i64.const 56)
      (i64.const 0) (i64.const 0)
      (i64.const 96)
      (i64.const 40000000000000))))

  (func (export "on_signed")
    (local $len i64)
    (if (i64.ne (call $promise_results_count) (i64.const 1))
      (then (call $panic_utf8 (i64.const 20) (i64.const 144))))
    (if (i64.ne (call $promise_result (i64.const 0) (i64.const 0)) (i64.const 1))
      (then (call $panic_utf8 (i64.const 20) (i64.const 144))))
    (local.set $len (call $register_to_buffer))
    (drop (call $storage_write
      (i64.const 9) (i64.const 16) (local.get $len) (i64.const 1024) (i64.const 1)))
    (call $value_return (local.get $len) (i64.const 1024)))

  (func (export "last_signature")
    (call $return_stored (i64.const 9) (i64.const 16))))
