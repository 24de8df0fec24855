package org.nfnet.cli;

/**
 * A problem with what the user asked for or gave (an option value, a file, a run directory): the
 * CLI prints the message alone and exits 2. Anything that is not a user error prints its trace.
 */
final class UserException extends RuntimeException {
  UserException(String message) {
    super(message);
  }

  UserException(String message, Throwable cause) {
    super(message, cause);
  }
}
