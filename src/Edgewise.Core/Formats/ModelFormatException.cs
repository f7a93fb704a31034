namespace Edgewise.Core.Formats;

/// <summary>
/// A model file is malformed or uses something Edgewise does not read. The message names the file, the byte
/// offset (when one applies) and what was expected versus what was found, so a person can act on it.
/// </summary>
public class ModelFormatException : Exception
{
    public ModelFormatException(string filePath, long offset, string detail)
        : base(offset >= 0 ? $"{filePath}: at byte {offset}: {detail}" : $"{filePath}: {detail}")
    {
        FilePath = filePath;
        Offset = offset;
    }

    public ModelFormatException(string filePath, long offset, string detail, Exception inner)
        : base(offset >= 0 ? $"{filePath}: at byte {offset}: {detail}" : $"{filePath}: {detail}", inner)
    {
        FilePath = filePath;
        Offset = offset;
    }

    /// <summary>The file (or shard) the problem is in.</summary>
    public string FilePath { get; }

    /// <summary>Byte offset of the offending field, or -1 when the problem is not tied to one place.</summary>
    public long Offset { get; }
}

/// <summary>A GGUF file is malformed or unsupported.</summary>
public sealed class GgufFormatException : ModelFormatException
{
    public GgufFormatException(string filePath, long offset, string detail) : base(filePath, offset, detail) { }
}

/// <summary>A safetensors file, or a sharded checkpoint's index, is malformed or unsupported.</summary>
public sealed class SafetensorsFormatException : ModelFormatException
{
    public SafetensorsFormatException(string filePath, long offset, string detail) : base(filePath, offset, detail) { }

    public SafetensorsFormatException(string filePath, long offset, string detail, Exception inner)
        : base(filePath, offset, detail, inner) { }
}
