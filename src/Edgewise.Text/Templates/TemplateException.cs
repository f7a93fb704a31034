namespace Edgewise.Text.Templates;

/// <summary>
/// A chat template could not be parsed or rendered. <see cref="Line"/> and <see cref="Column"/> point at the
/// construct in the template source (1-based; 0 when the error is not tied to a position).
/// </summary>
public class TemplateException : Exception
{
    public TemplateException(string message, int line = 0, int column = 0)
        : base(line > 0 ? $"template line {line}, column {column}: {message}" : message)
    {
        Line = line;
        Column = column;
        Reason = message;
    }

    public TemplateException(string message, Exception inner) : base(message, inner) => Reason = message;

    public TemplateException() : this("template error") { }

    public TemplateException(string message) : this(message, 0, 0) { }

    public int Line { get; }

    public int Column { get; }

    /// <summary>The message without the position prefix.</summary>
    public string Reason { get; }
}

/// <summary>The template itself called <c>raise_exception(message)</c> (for example "roles must alternate").</summary>
public sealed class TemplateRaisedException : TemplateException
{
    public TemplateRaisedException(string message, int line, int column) : base(message, line, column) { }

    public TemplateRaisedException() { }

    public TemplateRaisedException(string message) : base(message) { }

    public TemplateRaisedException(string message, Exception inner) : base(message, inner) { }
}
