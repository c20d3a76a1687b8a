"""The results document and its outputs: JSON, JUnit XML, the console."""
