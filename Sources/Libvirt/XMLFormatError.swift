public import DomainXML

/// A problem reading XML: the one error of the XML reader this module shares with bulwarkd's commit check.
public typealias XMLFormatError = DomainXML.XMLFormatError
