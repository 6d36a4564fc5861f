//! Local SageMaker Runtime emulator (work in progress).
