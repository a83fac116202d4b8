"""The bank's customers: the model, its JSON files, a generator and the personas.

Two kinds of customer log in to the bank's three systems:

- a :class:`Person` (個人網路銀行): 身分證字號, one 使用者代號 and password;
- a :class:`Company` (企業網路銀行 or EOI 系統): 統一編號, its 客戶別 (企業網路銀行
  only: 2, 3 or 4 are the ones the manual describes) and its users, whose
  roles follow the 客戶別 (:class:`Role`), its 申辦分行 and, for a shared
  certificate (共用憑證), its relationship customers (關係戶) with their
  12-digit 用戶代碼.

Every customer owns certificates at the CA. The mapping is fixed: the card
holder id (the CA's ``holder_id``, on the card and in the CN) *is* the
customer's 身分證字號 or 統一編號, and each certificate is named by a CN
suffix, so a company 04595257 with suffix 2015 owns CN ``04595257-00-2015``
(:data:`simulator.ca.profile.FXML`'s ``{holder_id}-00-{suffix}``).
:meth:`Person.ca_registrations` gives the arguments of
``CertificateAuthority.register_holder`` for each.

The model is pydantic dataclasses (:mod:`simulator.schema`): frozen, unknown keys
refused, each the schema of its JSON and the checker of its rules, whether it is
built in Python or read from a file, so an object that exists is valid. Any
refusal is one :class:`CustomerDataError` listing every problem with its field path
(``customers[2].users[0].user_code: ...``) and a zh-TW message. Files are versioned
(``format`` and ``version``), indented, UTF-8, with invisible characters (bidi
marks, zero-width joiners) written as ``\\uXXXX``. Passwords are the clear test
passwords: the bank hashes them when it stores a customer. See docs/bank.md.

The package's modules, each importing only those above it:

- :mod:`~simulator.bank.customers.errors`: the refusals;
- :mod:`~simulator.bank.customers.fields`: the field types and their rules;
- :mod:`~simulator.bank.customers.model`: persons, companies and their parts;
- :mod:`~simulator.bank.customers.files`: reading and writing the files;
- :mod:`~simulator.bank.customers.collection`: :class:`CustomerSet` and its file;
- :mod:`~simulator.bank.customers.personas`: the personas and their file;
- :mod:`~simulator.bank.customers.generator`: customers made with faker.
"""

from fxml.platform.tickets import System
from simulator.bank.customers.collection import CustomerSet, CustomersFile, add_to_file
from simulator.bank.customers.errors import CustomerDataError, Problem, UnknownCustomerError, UnknownPersonaError
from simulator.bank.customers.fields import ADDRESS_MAX, BANK_CODE, NAME_MAX, SUPER_USER_CODE, AccountKind, Role
from simulator.bank.customers.files import CUSTOMERS_FORMAT, FORMAT_VERSION, PERSONAS_FORMAT, dumps
from simulator.bank.customers.generator import BRANCHES, COMPANY_MIX, CustomerGenerator, generate_customers
from simulator.bank.customers.model import (
    DESCRIBED_CUSTOMER_TYPES,
    Account,
    Branch,
    Certificate,
    Company,
    Customer,
    HolderRegistration,
    Person,
    RelationshipCustomer,
    User,
    customer_from_json,
)
from simulator.bank.customers.personas import (
    DEFAULT_PERSONAS,
    PERSONAS_NOTE,
    Persona,
    PersonasFile,
    load_personas,
    persona,
    persona_customers,
    personas_from_json,
    personas_to_json,
    save_personas,
)

__all__ = [
    "ADDRESS_MAX", "BANK_CODE", "BRANCHES", "COMPANY_MIX", "CUSTOMERS_FORMAT", "DEFAULT_PERSONAS",
    "DESCRIBED_CUSTOMER_TYPES", "FORMAT_VERSION", "NAME_MAX", "PERSONAS_FORMAT", "PERSONAS_NOTE", "SUPER_USER_CODE",
    "Account", "AccountKind", "Branch", "Certificate", "Company", "Customer", "CustomerDataError", "CustomerGenerator",
    "CustomerSet", "CustomersFile", "HolderRegistration", "Person", "Persona", "PersonasFile", "Problem",
    "RelationshipCustomer", "Role", "System", "UnknownCustomerError", "UnknownPersonaError", "User", "add_to_file",
    "customer_from_json", "dumps", "generate_customers", "load_personas", "persona", "persona_customers",
    "personas_from_json", "personas_to_json", "save_personas",
]
