namespace Edgewise.Text.Tokenization;

/// <summary>A tokenizer file (tokenizer.json or GGUF metadata) that cannot be used; the message names the source and field.</summary>
public sealed class TokenizerFormatException : Exception
{
    public TokenizerFormatException(string source, string field, string expected, string found)
        : base($"{source}: {field}: expected {expected}, found {found}")
    {
        Source = source;
        Field = field;
    }

    public TokenizerFormatException(string message) : base(message)
    {
        Field = "";
    }

    public TokenizerFormatException() : base("invalid tokenizer") { Field = ""; }

    public TokenizerFormatException(string message, Exception innerException) : base(message, innerException) { Field = ""; }

    /// <summary>The JSON path or GGUF key that was wrong.</summary>
    public string Field { get; }
}
