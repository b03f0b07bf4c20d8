// Maps Node filesystem errors to StorageError. Messages name the user path only: the host path in the
// original error stays in `cause` (for logs) and never reaches the user. Used by the local store, and by the
// PVC store's file server if it runs Node.

import { StorageError, type StorageErrorCode, describePath } from './errors';

interface ErrnoLike {
  code: string;
}

export function isErrno(error: unknown, ...codes: string[]): error is NodeJS.ErrnoException & ErrnoLike {
  if (typeof error !== 'object' || error === null) return false;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && (codes.length === 0 || codes.includes(code));
}

const CODE_BY_ERRNO: Record<string, StorageErrorCode> = {
  ENOENT: 'NOT_FOUND',
  EEXIST: 'ALREADY_EXISTS',
  ENOTEMPTY: 'CONFLICT',
  ENOTDIR: 'NOT_A_DIRECTORY',
  EISDIR: 'IS_A_DIRECTORY',
  EACCES: 'PERMISSION_DENIED',
  EPERM: 'PERMISSION_DENIED',
  EROFS: 'PERMISSION_DENIED',
  ENOSPC: 'QUOTA_EXCEEDED',
  EDQUOT: 'QUOTA_EXCEEDED',
  EFBIG: 'QUOTA_EXCEEDED',
  ENAMETOOLONG: 'INVALID_PATH',
  ELOOP: 'INVALID_PATH',
  EINVAL: 'INVALID_PATH',
};

function messageFor(code: StorageErrorCode, errno: string, subject: string): string {
  const Subject = subject.charAt(0).toUpperCase() + subject.slice(1);
  switch (code) {
    case 'NOT_FOUND':
      return `${Subject} does not exist. Check the name, or refresh the folder to see its current contents.`;
    case 'ALREADY_EXISTS':
      return `${Subject} already exists. Choose another name, or replace it explicitly.`;
    case 'CONFLICT':
      return `${Subject} is a folder that is not empty. Delete its contents first, or delete it recursively.`;
    case 'NOT_A_DIRECTORY':
      return `Part of ${subject} is a file, not a folder. Check the path.`;
    case 'IS_A_DIRECTORY':
      return `${Subject} is a folder, but a file was expected. Choose a file, or use a folder operation.`;
    case 'PERMISSION_DENIED':
      return errno === 'EROFS'
        ? `${Subject} is on read-only storage. Save to another folder in your home.`
        : `You do not have permission to access ${subject}. Ask an administrator to check its permissions.`;
    case 'QUOTA_EXCEEDED':
      return `There is not enough space in your home folder to write ${subject}. Delete files you no longer need, or ask for a larger quota.`;
    case 'INVALID_PATH':
      if (errno === 'ELOOP') return `${Subject} goes through too many links. Check the links in that path.`;
      if (errno === 'EINVAL') return `${Subject} cannot be used for this operation (for example, moving a folder into itself). Choose another path.`;
      return `${Subject} is too long for the storage. Use a shorter path.`;
    case 'UNAVAILABLE':
      return `Your home folder could not be reached while working on ${subject}. Try again in a moment; if it keeps happening, tell an administrator.`;
  }
}

/**
 * Converts an fs error into a StorageError about `userPath`. Errors that are not filesystem errors (bugs)
 * are returned unchanged so they are not disguised as user errors.
 */
export function fromFsError(error: unknown, userPath: string): unknown {
  if (error instanceof StorageError || !isErrno(error)) return error;
  const code = CODE_BY_ERRNO[error.code] ?? 'UNAVAILABLE';
  return new StorageError(code, messageFor(code, error.code, describePath(userPath)), { path: userPath, cause: error });
}

/** Same as fromFsError, phrased as a message builder for a specific code (used for checks we make ourselves). */
export function storageError(code: StorageErrorCode, userPath: string, cause?: unknown): StorageError {
  return new StorageError(code, messageFor(code, '', describePath(userPath)), { path: userPath, cause });
}
