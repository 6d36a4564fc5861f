//! The keys the fast path reads, and the rule that each may appear once.

/// Sets a field once; a second occurrence makes the fast path give up (serde refuses
/// duplicate fields, and the fallback must decide).
#[inline]
pub(super) fn once<T>(slot: &mut Option<T>, seen: &mut u32, bit: u32, v: Option<T>) -> Option<()> {
    if *seen & bit != 0 {
        return None;
    }
    *seen |= bit;
    *slot = v;
    Some(())
}

/// The fields the fast path reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Field {
    Kind,
    Ts,
    RequestId,
    Experiment,
    ConfigVersion,
    Unit,
    AssignedBy,
    Arm,
    ServedArm,
    Event,
    Status,
    LatencyMs,
    FirstByteMs,
    Tokens,
    Value,
    Weights,
    Message,
    Endpoint,
    InvokedVariant,
    InferenceComponent,
    TargetModel,
    TargetContainerHostname,
    /// Fields only shadow records carry: the serde path reads those lines.
    ShadowOnly,
    Other,
}

#[inline]
pub(super) fn field(key: &[u8]) -> Field {
    match key {
        b"kind" => Field::Kind,
        b"ts" => Field::Ts,
        b"request_id" => Field::RequestId,
        b"experiment" => Field::Experiment,
        b"config_version" => Field::ConfigVersion,
        b"unit" => Field::Unit,
        b"assigned_by" => Field::AssignedBy,
        b"arm" => Field::Arm,
        b"served_arm" => Field::ServedArm,
        b"event" => Field::Event,
        b"status" => Field::Status,
        b"latency_ms" => Field::LatencyMs,
        b"first_byte_ms" => Field::FirstByteMs,
        b"tokens" => Field::Tokens,
        b"value" => Field::Value,
        b"weights" => Field::Weights,
        b"message" => Field::Message,
        b"endpoint" => Field::Endpoint,
        b"invoked_variant" => Field::InvokedVariant,
        b"inference_component" => Field::InferenceComponent,
        b"target_model" => Field::TargetModel,
        b"target_container_hostname" => Field::TargetContainerHostname,
        b"shadow" | b"agrees" | b"max_abs_diff" | b"primary_latency_ms" => Field::ShadowOnly,
        _ => Field::Other,
    }
}
