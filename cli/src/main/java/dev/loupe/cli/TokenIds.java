package dev.loupe.cli;

import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/** Token ids as given on the command line: {@code "1 5 9"} or {@code "1,5,9"}. */
public record TokenIds(int[] ids) {

    /** picocli's converter for options of this type; errors name the offending id. */
    public static final class Converter implements ITypeConverter<TokenIds> {
        @Override
        public TokenIds convert(String value) {
            String v = value.trim();
            if (v.isEmpty()) throw new TypeConversionException("no token ids given");
            String[] parts = v.split("[\\s,]+");
            int[] ids = new int[parts.length];
            for (int i = 0; i < parts.length; i++) {
                try {
                    ids[i] = Integer.parseInt(parts[i]);
                } catch (NumberFormatException e) {
                    throw new TypeConversionException("'" + parts[i] + "' is not a token id");
                }
            }
            return new TokenIds(ids);
        }
    }
}
