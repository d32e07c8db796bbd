namespace Jumpgate.Core.Streams;

/// <summary>How <see cref="Splice"/> moves the bytes of a direction whose two ends are plain descriptors.</summary>
internal enum SpliceMode
{
    /// <summary>Read into a buffer and write it out again, as for every other kind of connection.</summary>
    Copy,

    /// <summary>
    /// Move them in the kernel with splice(2) through a pipe, never into user space, where both
    /// ends offer a descriptor (<see cref="ConnectionStream.ReadDescriptor"/>,
    /// <see cref="ConnectionStream.WriteDescriptor"/>); every other direction still copies.
    /// </summary>
    Kernel,
}
