/**
 * One error class for everything `sil` rejects, with a machine-readable `code` per failure kind
 * (modelled on the safetensors crate's `SafeTensorError`). Messages name the file and, where there
 * is one, the tensor, and say what was expected and what was found.
 */
export type SilErrorCode =
  | 'FILE_NOT_FOUND'
  | 'TRUNCATED'
  | 'HEADER_TOO_SMALL'
  | 'HEADER_TOO_LARGE'
  | 'HEADER_LENGTH_BEYOND_FILE'
  | 'HEADER_NOT_JSON'
  | 'INVALID_HEADER'
  | 'UNKNOWN_DTYPE'
  | 'SHAPE_SIZE_MISMATCH'
  | 'INVALID_OFFSET'
  | 'OVERLAPPING_TENSORS'
  | 'HOLE_IN_BUFFER'
  | 'TENSOR_NOT_FOUND'
  | 'MISSING_SHARD'
  | 'INVALID_INDEX'
  | 'INVALID_CONFIG'
  | 'CHECKPOINT_MISMATCH'
  | 'UNSUPPORTED_ARCHITECTURE'
  | 'UNSUPPORTED_OPTION'
  | 'INVALID_ARGUMENT'
  | 'INVALID_DATA'
  | 'OUTPUT_EXISTS'
  | 'OUTPUT_IS_INPUT'
  | 'OUTPUT_NOT_A_FOLDER'
  | 'OUTPUT_IS_A_FOLDER'
  | 'LOCKED'
  | 'NOT_A_FILE'
  | 'IO_ERROR'
  | 'NO_SPACE'
  | 'PERMISSION_DENIED'
  | 'INTERNAL'
  | 'BACKEND_UNAVAILABLE'
  | 'CUDA_UNAVAILABLE'
  | 'CUDA_ERROR'
  | 'OUT_OF_DEVICE_MEMORY'
  | 'MASK_MISMATCH'
  | 'FONT_NOT_FOUND'
  | 'NAME_COLLISION'
  | 'REPLAY_MISMATCH'
  | 'NONFINITE_WEIGHTS'
  | 'NONFINITE_SCORE';

export class SilError extends Error {
  readonly code: SilErrorCode;
  readonly file?: string;
  readonly tensor?: string;

  constructor(code: SilErrorCode, message: string, where: { file?: string; tensor?: string } = {}) {
    const loc = [where.file ? `file ${where.file}` : '', where.tensor ? `tensor ${where.tensor}` : ''].filter(Boolean).join(', ');
    super(loc ? `${message} (${loc})` : message);
    this.name = 'SilError';
    this.code = code;
    this.file = where.file;
    this.tensor = where.tensor;
  }
}

export function isSilError(e: unknown): e is SilError {
  return e instanceof SilError;
}
