namespace Edgewise.Engine.Constraints;

/// <summary>A grammar cannot be built or bound to a vocabulary (missing special token, left recursion, ...).</summary>
public class GrammarException : Exception
{
    public GrammarException(string message) : base(message) { }

    public GrammarException(string message, Exception inner) : base(message, inner) { }

    public GrammarException() { }
}

/// <summary>A JSON Schema uses something the grammar compiler cannot enforce; <see cref="Pointer"/> names where.</summary>
public sealed class SchemaCompileException : GrammarException
{
    public SchemaCompileException(string pointer, string message)
        : base($"JSON schema at '{(pointer.Length == 0 ? "#" : "#" + pointer)}': {message}")
    {
        Pointer = pointer;
    }

    public SchemaCompileException() { Pointer = ""; }

    public SchemaCompileException(string message) : base(message) { Pointer = ""; }

    public SchemaCompileException(string message, Exception inner) : base(message, inner) { Pointer = ""; }

    /// <summary>JSON pointer (RFC 6901) of the offending schema inside the document, "" for the root.</summary>
    public string Pointer { get; }
}
