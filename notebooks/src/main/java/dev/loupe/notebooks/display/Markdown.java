package dev.loupe.notebooks.display;

/**
 * Markdown text, shown rendered ({@code text/markdown}: headings, tables, code) rather than as raw
 * text: {@code display(markdown(Zoo.card("attn-only-2l")))}. Its {@code text/plain} is the text itself.
 */
public record Markdown(String text) {
    public Markdown {
        if (text == null) throw new dev.loupe.engine.LoupeException("markdown: the text is null");
    }

    @Override
    public String toString() {
        return text;
    }
}
