namespace Edgewise.Text.Tokenization;

/// <summary>SentencePiece / GGUF <c>tokenizer.ggml.token_type</c> values (llama.cpp <c>llama_token_type</c>).</summary>
public enum TokenType
{
    Undefined = 0,
    Normal = 1,
    Unknown = 2,
    Control = 3,
    UserDefined = 4,
    Unused = 5,
    Byte = 6,
}
