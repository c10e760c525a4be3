package dev.loupe.viz;

import tech.tablesaw.api.Table;

/** A Tablesaw table as an HTML table: the first and last rows when it is long, with its shape. */
public final class TableHtml {

    public static final int MAX_ROWS = 40;

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
            h.append("<td>").append(escape(table.column(c).getString(r))).append("</td>");
        }
        h.append("</tr>\n");
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
