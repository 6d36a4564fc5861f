//! A parsing worker's table of names: each new phase, arm, event or set of weights gets the
//! next [`Id`] and a [`Def`] that announces it to the aggregator.

use std::collections::HashMap;

use super::fact::{Id, Target};

/// A name the worker saw for the first time, to be announced with its id.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Def {
    Phase {
        id: Id,
        experiment: String,
        version: String,
    },
    Arm {
        id: Id,
        name: String,
    },
    Event {
        id: Id,
        name: String,
    },
    Weights {
        id: Id,
        arms: Vec<(String, u32)>,
    },
    Target {
        id: Id,
        target: Target,
    },
}

/// A decision's endpoint and target fields, as bytes from the line (see [`Target`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TargetBytes<'a> {
    pub(crate) endpoint: &'a [u8],
    pub(crate) invoked_variant: Option<&'a [u8]>,
    pub(crate) inference_component: Option<&'a [u8]>,
    pub(crate) target_model: Option<&'a [u8]>,
    pub(crate) target_container_hostname: Option<&'a [u8]>,
}

impl TargetBytes<'_> {
    fn matches(&self, t: &Target) -> bool {
        let same = |a: Option<&[u8]>, b: &Option<String>| a == b.as_deref().map(str::as_bytes);
        self.endpoint == t.endpoint.as_bytes()
            && same(self.invoked_variant, &t.invoked_variant)
            && same(self.inference_component, &t.inference_component)
            && same(self.target_model, &t.target_model)
            && same(self.target_container_hostname, &t.target_container_hostname)
    }

    /// The fields as one unambiguous byte string (each: present or not, length, bytes).
    fn encode(&self, out: &mut Vec<u8>) {
        out.clear();
        let fields = [
            Some(self.endpoint),
            self.invoked_variant,
            self.inference_component,
            self.target_model,
            self.target_container_hostname,
        ];
        for f in fields {
            match f {
                None => out.push(0),
                Some(b) => {
                    out.push(1);
                    out.extend_from_slice(&(b.len() as u64).to_le_bytes());
                    out.extend_from_slice(b);
                }
            }
        }
    }

    fn to_target(self) -> Result<Target, NoId> {
        let opt = |b: Option<&[u8]>| b.map(utf8).transpose();
        Ok(Target {
            endpoint: utf8(self.endpoint)?,
            invoked_variant: opt(self.invoked_variant)?,
            inference_component: opt(self.inference_component)?,
            target_model: opt(self.target_model)?,
            target_container_hostname: opt(self.target_container_hostname)?,
        })
    }
}

/// A name that gets no id: it is new and not UTF-8 (the line then goes to serde_json, which
/// refuses it), or the table already holds as many names as an [`Id`] can number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NoId;

/// A worker's table of names: each new name gets the next id and a [`Def`]. Names are looked
/// up by their bytes; a new name must be UTF-8 (else the lookup gives [`NoId`] and the line
/// goes to serde_json, which refuses it).
#[derive(Debug, Default)]
pub(crate) struct Names {
    phases: HashMap<Vec<u8>, HashMap<Vec<u8>, Id>>,
    phase_count: usize,
    /// The last phase looked up: most lines repeat it.
    last_phase: Option<(Vec<u8>, Vec<u8>, Id)>,
    arms: Table,
    events: Table,
    weights: Vec<Vec<(String, u32)>>,
    last_weights: Option<Id>,
    /// Targets in first-seen order: a handful per experiment, compared field by field with
    /// the line's (the last one first), and by their encoded bytes once there are many. Not a
    /// [`Table`] of encoded keys: encoding every decision's five fields cost 1.0% more
    /// instructions for the whole report (callgrind, 200,000 lines).
    targets: Vec<Target>,
    target_map: HashMap<Vec<u8>, Id>,
    target_key: Vec<u8>,
    last_target: Option<Id>,
    /// Definitions not yet handed to the aggregator.
    pub(crate) defs: Vec<Def>,
}

fn utf8(b: &[u8]) -> Result<String, NoId> {
    std::str::from_utf8(b).map(str::to_owned).map_err(|_| NoId)
}

impl Names {
    /// The id of an experiment's config version.
    #[inline]
    pub(crate) fn phase(&mut self, experiment: &[u8], version: &[u8]) -> Result<Id, NoId> {
        if let Some((e, v, id)) = &self.last_phase
            && e == experiment
            && v == version
        {
            return Ok(*id);
        }
        let id = match self.phases.get(experiment).and_then(|m| m.get(version)) {
            Some(id) => *id,
            None => {
                let (e, v) = (utf8(experiment)?, utf8(version)?);
                let id = Id::from_index(self.phase_count).ok_or(NoId)?;
                self.phase_count += 1;
                self.phases
                    .entry(experiment.to_vec())
                    .or_default()
                    .insert(version.to_vec(), id);
                self.defs.push(Def::Phase {
                    id,
                    experiment: e,
                    version: v,
                });
                id
            }
        };
        self.last_phase = Some((experiment.to_vec(), version.to_vec(), id));
        Ok(id)
    }

    /// The id of an arm name.
    #[inline]
    pub(crate) fn arm(&mut self, name: &[u8]) -> Result<Id, NoId> {
        intern(&mut self.arms, &mut self.defs, name, |id, name| Def::Arm {
            id,
            name,
        })
    }

    /// The id of an event name.
    #[inline]
    pub(crate) fn event(&mut self, name: &[u8]) -> Result<Id, NoId> {
        intern(&mut self.events, &mut self.defs, name, |id, name| {
            Def::Event { id, name }
        })
    }

    /// The id of a set of weights; None when a weight is not a whole number of basis points
    /// from 0 to 10,000 (the record then counts as one without weights).
    #[inline]
    pub(crate) fn weights(&mut self, w: &[(&[u8], f64)]) -> Result<Option<Id>, NoId> {
        let same = |known: &[(String, u32)]| {
            known.len() == w.len()
                && known
                    .iter()
                    .zip(w)
                    .all(|((n, v), (m, x))| n.as_bytes() == *m && f64::from(*v) == *x)
        };
        if let Some(last) = self.last_weights
            && self.weights.get(last.index()).is_some_and(|k| same(k))
        {
            return Ok(Some(last));
        }
        let valid = w
            .iter()
            .all(|(_, x)| x.fract() == 0.0 && (0.0..=10_000.0).contains(x));
        if !valid {
            // Names must still be UTF-8 for the line to be a record at all.
            for (n, _) in w {
                utf8(n)?;
            }
            return Ok(None);
        }
        let id = match self.weights.iter().position(|k| same(k)) {
            Some(i) => Id::from_index(i).ok_or(NoId)?,
            None => {
                let mut arms = Vec::with_capacity(w.len());
                for (n, x) in w {
                    // A whole number from 0 to 10,000 (checked above).
                    arms.push((utf8(n)?, *x as u32));
                }
                let id = Id::from_index(self.weights.len()).ok_or(NoId)?;
                self.weights.push(arms.clone());
                self.defs.push(Def::Weights { id, arms });
                id
            }
        };
        self.last_weights = Some(id);
        Ok(Some(id))
    }
}

impl Names {
    /// The id of a decision's endpoint and target.
    #[inline]
    pub(crate) fn target(&mut self, t: TargetBytes<'_>) -> Result<Id, NoId> {
        if let Some(last) = self.last_target
            && self.targets.get(last.index()).is_some_and(|k| t.matches(k))
        {
            return Ok(last);
        }
        let id = if let Some(i) = self.targets.iter().take(LINEAR).position(|k| t.matches(k)) {
            Id::from_index(i).ok_or(NoId)?
        } else {
            t.encode(&mut self.target_key);
            match self.target_map.get(&self.target_key) {
                Some(id) => *id,
                None => {
                    let target = t.to_target()?;
                    let id = Id::from_index(self.targets.len()).ok_or(NoId)?;
                    self.targets.push(target.clone());
                    self.target_map.insert(self.target_key.clone(), id);
                    self.defs.push(Def::Target { id, target });
                    id
                }
            }
        };
        self.last_target = Some(id);
        Ok(id)
    }
}

/// Names in first-seen order; a linear scan beats hashing for the handful of arms and events
/// an experiment has, and the map takes over when there are many.
#[derive(Debug, Default)]
struct Table {
    names: Vec<Vec<u8>>,
    map: HashMap<Vec<u8>, Id>,
}

/// Entries scanned linearly before the map is used.
const LINEAR: usize = 16;

#[inline]
fn intern(
    t: &mut Table,
    defs: &mut Vec<Def>,
    name: &[u8],
    def: impl FnOnce(Id, String) -> Def,
) -> Result<Id, NoId> {
    if let Some(i) = t.names.iter().take(LINEAR).position(|n| n == name) {
        return Id::from_index(i).ok_or(NoId);
    }
    if t.names.len() > LINEAR
        && let Some(id) = t.map.get(name)
    {
        return Ok(*id);
    }
    let text = utf8(name)?;
    let id = Id::from_index(t.names.len()).ok_or(NoId)?;
    t.names.push(name.to_vec());
    t.map.insert(name.to_vec(), id);
    defs.push(def(id, text));
    Ok(id)
}
