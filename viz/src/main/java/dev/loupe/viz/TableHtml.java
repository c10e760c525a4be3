package dev.loupe.viz;

import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;
import java.util.Locale;
import tech.tablesaw.api.ColumnType;
import tech.tablesaw.api.NumberColumn;
import tech.tablesaw.api.Table;
import tech.tablesaw.columns.Column;

/**
 * A Tablesaw table as an HTML table: the first and last rows when it is long, with its shape.
 * Floating-point cells show {@link #SIGNIFICANT_DIGITS} significant digits, right-aligned, with the
 * full value on hover (the table itself keeps it, for export: {@code table.write().csv(...)}).
 */
public final class TableHtml {

    public static final int MAX_ROWS = 40;
    public static final int SIGNIFICANT_DIGITS = 4;

    private TableHtml() {}

    public static String of(Table table) {
        StringBuilder h = new StringBuilder("<div class=\"loupe-table\">\n<table>\n<thead><tr>");
        for (String col : table.columnNames())
            h.append("<th>").append(escape(col)).append("</th>");
        h.append("</tr></thead>\n<tbody>\n");
        int rows = table.rowCount();
        int head = rows <= MAX_ROWS ? rows : MAX_ROWS / 2;
        for (int r = 0; r < head; r++) row(h, table, r);
        if (rows > MAX_ROWS) {
            h.append("<tr><td colspan=\"")
                    .append(table.columnCount())
                    .append("\">… ")
                    .append(rows - MAX_ROWS)
                    .append(" more rows …</td></tr>\n");
            for (int r = rows - MAX_ROWS / 2; r < rows; r++) row(h, table, r);
        }
        h.append("</tbody>\n</table>\n<p style=\"font-size:smaller\">")
                .append(escape(table.name() == null ? "" : table.name()))
                .append(" (")
                .append(rows)
                .append(" rows × ")
                .append(table.columnCount())
                .append(" columns)</p>\n</div>\n");
        return h.toString();
    }

    private static void row(StringBuilder h, Table table, int r) {
        h.append("<tr>");
        for (int c = 0; c < table.columnCount(); c++) {
            Column<?> col = table.column(c);
            if (col instanceof NumberColumn<?, ?> n
                    && (col.type() == ColumnType.DOUBLE || col.type() == ColumnType.FLOAT)
                    && !col.isMissing(r)) {
                double v = n.getDouble(r);
                h.append("<td style=\"text-align:right\" title=\"")
                        .append(escape(col.type() == ColumnType.FLOAT ? Float.toString((float) v) : Double.toString(v)))
                        .append("\">")
                        .append(escape(significant(v, SIGNIFICANT_DIGITS)))
                        .append("</td>");
            } else {
                h.append("<td>").append(escape(col.getString(r))).append("</td>");
            }
        }
        h.append("</tr>\n");
    }

    /**
     * {@code v} with {@code digits} significant digits, without trailing zeros: 0.01235, 2.314, 1235,
     * 123457 (integer digits are never dropped), and 1.235e-07 / 1.235e+09 outside [1e-4, 1e6).
     */
    public static String significant(double v, int digits) {
        if (Double.isNaN(v)) return "NaN";
        if (Double.isInfinite(v)) return v > 0 ? "∞" : "-∞";
        if (v == 0) return "0";
        double a = Math.abs(v);
        if (a < 1e-4 || a >= 1e6) return String.format(Locale.ROOT, "%." + (digits - 1) + "e", v);
        BigDecimal d = new BigDecimal(v);
        int integerDigits = Math.max(1, d.precision() - d.scale());
        d = d.round(new MathContext(Math.max(digits, a >= 1 ? integerDigits : digits), RoundingMode.HALF_EVEN));
        return d.stripTrailingZeros().toPlainString();
    }

    /** Text escaped for HTML element content and attribute values. */
    public static String escape(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (char c : s.toCharArray()) {
            switch (c) {
                case '<' -> b.append("&lt;");
                case '>' -> b.append("&gt;");
                case '&' -> b.append("&amp;");
                case '"' -> b.append("&quot;");
                case '\'' -> b.append("&#39;");
                default -> b.append(c);
            }
        }
        return b.toString();
    }
}
