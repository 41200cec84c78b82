#ifndef BULWARK_CLIBXML2_SHIM_H
#define BULWARK_CLIBXML2_SHIM_H

#include <libxml/xmlversion.h>
/* Debian builds libxml2 with ICU, whose headers clash with the ICU copy inside Swift's Foundation. Bulwark never
   touches libxml2's encoding-handler structs (the only place ICU types appear), so hiding ICU is safe. */
#undef LIBXML_ICU_ENABLED

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

/* libxml2's xmlFree is a global function pointer, which Swift sees as shared mutable state. */
static inline void bulwark_xml_free(void *pointer) { xmlFree(pointer); }

#endif
