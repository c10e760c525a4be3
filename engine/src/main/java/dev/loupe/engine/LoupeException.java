package dev.loupe.engine;

/**
 * The one exception type Loupe throws for bad input: its message names the file, tensor, hook or
 * argument at fault and says what was expected.
 */
public class LoupeException extends RuntimeException {
    public LoupeException(String message) {
        super(message);
    }

    public LoupeException(String message, Throwable cause) {
        super(message, cause);
    }
}
